-- How the attribution models differ: share of all registrations credited to each channel, one column per
-- model. `dbt compile --select attribution_models_compared` prints the SQL to run.
with totals as (
    select model, channel, sum(credit) as registrations
    from {{ ref('attribution_credits') }}
    group by model, channel
),

shares as (
    select model, channel, registrations / sum(registrations) over (partition by model) as share
    from totals
)

select
    channel,
    round(100 * max(share) filter (where model = 'rule_based')::numeric, 1) as rule_based_pct,
    round(100 * max(share) filter (where model = 'first_touch')::numeric, 1) as first_touch_pct,
    round(100 * max(share) filter (where model = 'last_touch')::numeric, 1) as last_touch_pct,
    round(100 * max(share) filter (where model = 'linear')::numeric, 1) as linear_pct,
    round(100 * max(share) filter (where model = 'time_decay')::numeric, 1) as time_decay_pct,
    round(100 * max(share) filter (where model = 'position_based')::numeric, 1) as position_based_pct
from shares
group by channel
order by channel
