{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registrations whose user has sessions, but all of them after registering (attributed UNATTRIBUTED);
-- those of the latest run's loads.
select r.registration_key, r.user_id, r.registration_time, min(s.time_started) as first_session_at
from {{ ref('fct_registrations') }} as r
join {{ ref('fct_sessions') }} as s on s.user_id = r.user_id
where {{ loads_under_test('r._load_id', ref('audit_registration_loads')) }}
group by r.registration_key, r.user_id, r.registration_time
having min(s.time_started) > r.registration_time
