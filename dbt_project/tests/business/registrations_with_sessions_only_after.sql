-- Registrations whose user has sessions, but all of them after registering (attributed UNATTRIBUTED);
-- those of the latest run's loads. dim_user holds each user's first session (one probe per registration).
with

registrations as (
    select * from {{ ref('fct_registrations') }}
),

users as (
    select * from {{ ref('dim_user') }}
)

select
    registrations.registration_key,
    registrations.user_id,
    registrations.registration_time,
    users.first_session_at
from registrations
inner join users on registrations.user_id = users.user_id
where
    {{ latest_run_loads_filter('registrations._load_id', ref('audit_registration_loads')) }}
    and users.first_session_at > registrations.registration_time
    -- implied by the line above (the user's first registration is no later than this one): a filter on
    -- dim_user alone, so that only the few such users are joined, not every user
    and users.first_session_at > users.first_registration_at
