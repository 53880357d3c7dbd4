{#
  The touches of registrations: each registration's user's (deduplicated) sessions that started at or
  before the registration, flagged when inside the multi-touch lookback window. `registrations`: a
  relation or CTE with registration_key, user_id and registration_time; `sessions`: fct_sessions.
  The definition of int_registration_touches (all registrations), and what the rule-based attribution
  joins to the registrations it (re)computes directly: through the view, it joined them to
  fct_registrations once more.
#}
{% macro registration_touches(registrations, sessions) -%}
select
    r.registration_key,
    r.user_id,
    r.registration_time,
    s.time_started,
    s.medium,
    s.is_paid,
    {{ hours_between('r.registration_time', 's.time_started') }} as hours_before_registration,
    s.time_started >= r.registration_time - {{ hours(var('attribution_lookback_days') * 24) }}
        as is_in_lookback
from {{ registrations }} as r
join {{ sessions }} as s
    on s.user_id = r.user_id
   and s.time_started <= r.registration_time
{%- endmacro %}
