{#
  The touches of every registration: that user's (deduplicated) sessions that started at or before the
  registration. Sessions are joined only for registering users, through the index on
  fct_sessions (user_id, time_started). A view: the attribution models filter it to the registrations they
  (re)compute, and Postgres pushes that filter into the join.
#}
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
from {{ ref('fct_registrations') }} as r
join {{ ref('fct_sessions') }} as s
    on s.user_id = r.user_id
   and s.time_started <= r.registration_time
