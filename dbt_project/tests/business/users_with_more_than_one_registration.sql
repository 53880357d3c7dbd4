{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Users who registered more than once; each registration is attributed on its own. Users recomputed by
-- the latest run (all after a full build).
select user_id, registration_count, first_registration_at
from {{ ref('dim_user') }}
where registration_count > 1
  and {{ recomputed_under_test() }}
