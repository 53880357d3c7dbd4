{#
  A calendar covering every session and registration date (UTC days). The bounds come from the index on
  fct_sessions (session_date): two index probes instead of a scan of every session.
#}
with bounds as (
    select min(d) as first_day, max(d) as last_day
    from (
        (select session_date as d from {{ ref('fct_sessions') }} order by session_date limit 1)
        union all
        (select session_date from {{ ref('fct_sessions') }} order by session_date desc limit 1)
        union all
        select min(registration_date) from {{ ref('fct_registrations') }}
        union all
        select max(registration_date) from {{ ref('fct_registrations') }}
    ) as d
),

days as (
    select generate_series(first_day, last_day, interval '1 day')::date as date_day
    from bounds
    where first_day is not null
)

select
    date_day,
    extract(year from date_day)::int as year,
    extract(month from date_day)::int as month,
    extract(day from date_day)::int as day_of_month,
    extract(isodow from date_day)::int as iso_day_of_week,
    to_char(date_day, 'FMDay') as day_name,
    extract(week from date_day)::int as iso_week,
    date_trunc('month', date_day)::date as month_start,
    extract(isodow from date_day) in (6, 7) as is_weekend
from days
