{{ config(tags=['attribution']) }}
{#
  The original report: registrations per rule-based channel and calendar month (UTC). Unlike the
  original, every registration counts, including OTHERS with out-of-window touches only and UNATTRIBUTED.
#}
select
    channel,
    extract(year from registration_date)::int as year,
    extract(month from registration_date)::int as month,
    count(*) as registrations
from {{ ref('registration_attribution') }}
group by channel, year, month
