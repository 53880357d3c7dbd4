{{ config(materialized='table', tags=['attribution'], pre_hook="{{ tune_postgres_session(parallel=true) }}") }}
{#
  The credits of attribution_credits summed per registration day and channel, one column per model: built
  beside the conversion paths, so that channel_attribution_daily only adds the model markov once the
  Markov chain is solved.
#}
with

credits as (
    select * from {{ ref('attribution_credits') }}
)

select
    registration_date,
    channel,
    {{ credit_sums() }}
from credits
group by registration_date, channel
