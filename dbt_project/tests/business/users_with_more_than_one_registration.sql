-- Users who registered more than once; each registration is attributed on its own. Users recomputed by
-- the latest run (all after a full build).
with users as (
    select * from {{ ref('dim_user') }}
)

select
    user_id,
    registration_count,
    first_registration_at
from users
where
    registration_count > 1
    and {{ latest_run_rows_filter() }}
