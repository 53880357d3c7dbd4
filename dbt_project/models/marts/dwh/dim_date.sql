{{
    config(
        materialized='incremental',
        unique_key='date_day',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
{#
  A calendar covering every session and registration date (UTC days). A full build takes the bounds of
  all facts (one parallel scan of the narrow session_date column); incremental runs widen the calendar's
  own bounds with the dates of the new loads (found through the facts' _load_id indexes) and rewrite the
  calendar, a few hundred rows.
#}
-- the facts' critical tests read the audits: built only once they pass
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
{% if is_incremental() %}
    {% set sessions_wm, registrations_wm = stored_watermarks(this) %}
{% endif %}

with

sessions as (
    select * from {{ ref('fct_sessions') }}
),

registrations as (
    select * from {{ ref('fct_registrations') }}
),

session_bounds as (
    select
        min(session_date) as first_day,
        max(session_date) as last_day
    from sessions
    {% if is_incremental() %}
        where _load_id > {{ sessions_wm }}
    {% endif %}
),

registration_bounds as (
    select
        min(registration_date) as first_day,
        max(registration_date) as last_day
    from registrations
    {% if is_incremental() %}
        where _load_id > {{ registrations_wm }}
    {% endif %}
),

{% if is_incremental() %}
    calendar_bounds as (
        select
            min(date_day) as first_day,
            max(date_day) as last_day
        from {{ this }}
    ),
{% endif %}

bounds as (
    -- least / greatest skip nulls: either feed may be empty
    select
        least(
            session_bounds.first_day,
            registration_bounds.first_day
            {%- if is_incremental() %}, calendar_bounds.first_day{% endif %}
        ) as first_day,
        greatest(
            session_bounds.last_day,
            registration_bounds.last_day
            {%- if is_incremental() %}, calendar_bounds.last_day{% endif %}
        ) as last_day
    from session_bounds
    cross join registration_bounds
    {% if is_incremental() %}
        cross join calendar_bounds
    {% endif %}
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
    extract(isodow from date_day) in (6, 7) as is_weekend,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from days
