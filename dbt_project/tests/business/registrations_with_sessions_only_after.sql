{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registrations whose user has sessions, but all of them after registering (attributed UNATTRIBUTED).
select r.registration_key, r.user_id, r.registration_time
from {{ ref('fct_registrations') }} as r
where exists (select 1 from {{ ref('fct_sessions') }} as s where s.user_id = r.user_id)
  and not exists (
      select 1 from {{ ref('fct_sessions') }} as s
      where s.user_id = r.user_id and s.time_started <= r.registration_time
  )
