{{ config(tags=['attribution']) }}
{# channel_cost_daily per calendar month: the sums, and the cost per registration of the sums. #}
with daily_cost as (
    select * from {{ ref('channel_cost_daily') }}
)

select
    extract(year from date_day)::int as year,
    extract(month from date_day)::int as month,
    model,
    channel,
    sum(spend) as spend,
    sum(registrations) as registrations,
    sum(spend) / nullif(sum(registrations), 0) as cost_per_registration,
    min(currency) as currency
from daily_cost
group by year, month, model, channel
