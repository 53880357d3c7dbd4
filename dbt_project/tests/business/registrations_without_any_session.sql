{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registrations of users who never had a session (attributed UNATTRIBUTED); those of the
-- latest run's loads.
select r.registration_key, r.user_id, r.registration_time
from {{ ref('fct_registrations') }} as r
where {{ loads_under_test('r._load_id', ref('audit_registration_loads')) }}
  and not exists (select 1 from {{ ref('fct_sessions') }} as s where s.user_id = r.user_id)
