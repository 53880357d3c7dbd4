{{ config(materialized='view', tags=['attribution']) }}
{#
  Markov credit of every registration, one row per registration and channel credited. A view: every run's
  new paths change the removal effects and so every registration's credits, which a stored table would
  have to rewrite in full on each run to stay exact.
#}
select p.registration_key, p.user_id, p.registration_date, c.channel, c.credit as markov_credit
from {{ ref('user_paths') }} as p
cross join lateral {{ markov_credits('p.steps') }} as c
where p.registration_key is not null
