{{ config(materialized='view', tags=['attribution']) }}
{#
  Markov credit of every registration, one row per registration and channel credited. A view: every run's
  new paths change the removal effects and so every registration's credits, which a stored table would
  have to rewrite in full on each run to stay exact.
#}
with

paths as (
    select * from {{ ref('user_paths') }}
),

removal_effects as (
    select * from {{ ref('markov_channel_attribution') }}
)

select
    paths.registration_key,
    paths.user_id,
    paths.registration_date,
    path_credit.channel,
    path_credit.credit as markov_credit
from paths
cross join lateral {{ markov_credits('paths.steps', 'removal_effects') }} as path_credit
where paths.registration_key is not null
