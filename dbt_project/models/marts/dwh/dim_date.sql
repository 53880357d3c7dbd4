{#
  A calendar covering every session and registration date (UTC days). The session bounds cost one
  (parallel) scan of the narrow session_date column.
#}
with session_bounds as (
    select min(session_date) as first_day, max(session_date) as last_day
    from {{ ref('fct_sessions') }}
),

registration_bounds as (
    select min(registration_date) as first_day, max(registration_date) as last_day
    from {{ ref('fct_registrations') }}
),

bounds as (
    -- least / greatest skip nulls: either feed may be empty
    select least(s.first_day, r.first_day) as first_day, greatest(s.last_day, r.last_day) as last_day
    from session_bounds as s
    cross join registration_bounds as r
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
