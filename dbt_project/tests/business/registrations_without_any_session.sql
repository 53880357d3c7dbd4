-- Registrations of users who never had a session (attributed UNATTRIBUTED); those of the
-- latest run's loads. dim_user holds each user's session summary (one probe per registration).
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
    registrations.registration_time
from registrations
inner join users on registrations.user_id = users.user_id
where
    {{ latest_run_loads_filter('registrations._load_id', ref('audit_registration_loads')) }}
    and users.session_count = 0
