{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy', 'attribution'],
        pre_hook="{{ tune_postgres_session(parallel=false) }}",
        indexes=[
            {'columns': ['user_id']},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  Every conversion path: one row per registration (a converting path: its touches in the multi-touch
  lookback window, in the multi-touch order) and one per user who never registered (a non-converting path:
  all the user's sessions, same order). Steps are the touches' channels (normalised mediums) with
  consecutive repeats collapsed into one (A A B A -> A B A). A registration without a touch in the window
  keeps its row with no steps: it has no path.
  Incremental by user: a user's paths depend on that user's sessions and registrations only, so a run
  recomputes every path of the users with a new session or registration (delete+insert on user_id), which
  also drops the non-converting path of a user who has registered since. Every such user has a row.
#}
-- the facts' critical tests read the audits: built only once they pass
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
{% set touch_order = 'time_started, medium, is_paid' %}
{% if is_incremental() %}
    {% set sessions_wm, registrations_wm = stored_watermarks(this) %}
    {% set users_in_scope %}
        select user_id from {{ ref('fct_sessions') }} where _load_id > {{ sessions_wm }}
        union
        select user_id from {{ ref('fct_registrations') }} where _load_id > {{ registrations_wm }}
    {% endset %}
{% endif %}

with

-- read more than once: not materialised, so that each read is planned on the table itself
fct_registrations as not materialized (
    select * from {{ ref('fct_registrations') }}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
),

registration_touches as (
    select * from {{ ref('int_registration_touches') }}
),

registrations as (
    select
        registration_key,
        user_id,
        registration_time,
        registration_date
    from fct_registrations
    {%- if is_incremental() %}
        where user_id in ({{ users_in_scope }})
    {%- endif %}
),

converting_touches as (
    -- a touch starts a step unless the touch before it in the path has the same channel
    select
        user_id,
        registration_key,
        time_started,
        medium,
        is_paid,
        (
            medium is distinct from lag(medium) over (partition by registration_key order by {{ touch_order }})
        ) as starts_step
    from registration_touches
    where
        is_in_lookback
        {%- if is_incremental() %}
            and user_id in ({{ users_in_scope }})
        {%- endif %}
),

converting as (
    select
        registration_key,
        array_agg(medium order by {{ touch_order }}) filter (where starts_step) as steps,
        count(*) as touches,
        min(time_started) as first_touch_at
    from converting_touches
    group by registration_key
),

non_converting_touches as (
    -- apart from the registrations' touches: read in the order of fct_sessions' unique index (user_id,
    -- time_started, medium, is_paid), the window and the aggregate below need no sort
    select
        user_id,
        time_started,
        medium,
        is_paid,
        (medium is distinct from lag(medium) over (partition by user_id order by {{ touch_order }}))
            as starts_step
    from sessions
    where
        not exists (
            select from fct_registrations
            where sessions.user_id = fct_registrations.user_id
        )
        {%- if is_incremental() %}
            and user_id in ({{ users_in_scope }})
        {%- endif %}
),

non_converting as (
    select
        user_id,
        array_agg(medium order by {{ touch_order }}) filter (where starts_step) as steps,
        count(*) as touches
    from non_converting_touches
    group by user_id
)

select
    registrations.user_id,
    registrations.registration_key,
    registrations.registration_date,
    coalesce(converting.steps, '{}'::text[]) as steps,
    coalesce(converting.touches, 0)::integer as touches,
    {{ hours_between('registrations.registration_time', 'converting.first_touch_at') }} / 24.0 as days_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from registrations
left join converting on registrations.registration_key = converting.registration_key
union all
select
    user_id,
    null::uuid as registration_key,
    null::date as registration_date,
    steps,
    touches::integer as touches,
    null::double precision as days_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from non_converting
