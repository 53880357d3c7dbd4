{{ config(materialized='view', tags=['attribution']) }}
{#
  Markov credit of every registration, one row per registration and channel credited: the credits of its
  path's set of channels (markov_channel_set_credits). A view: every run's new paths change the removal effects and so every
  registration's credits, which a stored table would have to rewrite in full on each run to stay exact.
#}
with

paths as (
    select * from {{ ref('user_paths') }}
),

set_credits as (
    select * from {{ ref('markov_channel_set_credits') }}
)

select
    paths.registration_key,
    paths.user_id,
    paths.registration_date,
    set_credits.channel,
    set_credits.markov_credit
from paths
inner join set_credits on {{ path_channel_set('paths.steps') }} = set_credits.channels
where paths.registration_key is not null
