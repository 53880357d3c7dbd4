{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registrations whose user has sessions, but all of them after registering (attributed UNATTRIBUTED);
-- those of the latest run's loads. dim_user holds each user's first session (one probe per registration).
select r.registration_key, r.user_id, r.registration_time, u.first_session_at
from {{ ref('fct_registrations') }} as r
join {{ ref('dim_user') }} as u on u.user_id = r.user_id
where {{ loads_under_test('r._load_id', ref('audit_registration_loads')) }}
  and u.first_session_at > r.registration_time
  -- implied by the line above (the user's first registration is no later than this one): a filter on
  -- dim_user alone, so that only the few such users are joined, not every user (2.0 s -> 0.4 s at 4M users)
  and u.first_session_at > u.first_registration_at
