{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registrations of users who never had a session (attributed UNATTRIBUTED); those of the
-- latest run's loads. dim_user holds each user's session summary (one probe per registration).
select r.registration_key, r.user_id, r.registration_time
from {{ ref('fct_registrations') }} as r
join {{ ref('dim_user') }} as u on u.user_id = r.user_id
where {{ loads_under_test('r._load_id', ref('audit_registration_loads')) }}
  and u.session_count = 0
