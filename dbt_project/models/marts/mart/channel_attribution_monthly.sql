{{ config(tags=['attribution']) }}
{#
  The original report: registrations per rule-based channel and calendar month (UTC). Unlike the
  original, every registration counts, including OTHERS with out-of-window touches only and UNATTRIBUTED.
  A roll-up of the rule-based rows of channel_attribution_daily (a few thousand rows) rather than a second
  count over every registration: each registration has exactly one rule-based credit of 1
  (one_rule_based_row_per_registration), so the sums are whole counts.
#}
with daily_attribution as (
    select * from {{ ref('channel_attribution_daily') }}
)

select
    channel,
    extract(year from registration_date)::int as year,
    extract(month from registration_date)::int as month,
    sum(registrations)::bigint as registrations
from daily_attribution
where model = 'rule_based'
group by channel, year, month
