{#
  The touches of every registration: that user's (deduplicated) sessions that started at or before the
  registration. Sessions are joined only for registering users, through the index on
  fct_sessions (user_id, time_started). A view: the attribution models filter it to the registrations they
  (re)compute, and Postgres pushes that filter into the join.
  Before it is replaced, fct_registrations is vacuumed: its new rows are then marked visible to all, and the
  join reads the registrations from the table's index alone (index-only scans). Not in fct_registrations'
  own hook: fct_sessions' build, open beside it, would keep the rows from counting as visible to all.
#}
{{ config(pre_hook=before_begin("vacuum {{ ref('fct_registrations') }}")) }}
with

registrations as (
    select * from {{ ref('fct_registrations') }}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
)

select
    registrations.registration_key,
    registrations.user_id,
    registrations.registration_time,
    sessions.time_started,
    sessions.medium,
    sessions.is_paid,
    sessions._load_id as session_load_id,
    {{ hours_between('registrations.registration_time', 'sessions.time_started') }} as hours_before_registration,
    sessions.time_started
    >= registrations.registration_time - {{ hours(var('attribution_lookback_days') * 24) }} as is_in_lookback
from registrations
inner join sessions
    on
        registrations.user_id = sessions.user_id
        and registrations.registration_time >= sessions.time_started
