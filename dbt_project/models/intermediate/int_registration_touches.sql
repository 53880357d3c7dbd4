{#
  The touches of every registration: that user's (deduplicated) sessions that started at or before the
  registration. Sessions are joined only for registering users, through the index on
  fct_sessions (user_id, time_started). A view: the attribution models filter it to the registrations they
  (re)compute, and Postgres pushes that filter into the join.
  The per-load audits are no input, but the facts' critical tests (reconciliation with raw, not null,
  relationships) read them; in a build a test holds back only the models downstream of all the tables it
  reads, so the attribution depends on the audits to stop when those tests fail.
#}
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
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
