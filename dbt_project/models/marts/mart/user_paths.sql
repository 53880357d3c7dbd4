{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy', 'attribution'],
        pre_hook="{{ set_work_mem(parallel=false) }}",
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

registrations as (
    select registration_key, user_id, registration_time, registration_date
    from {{ ref('fct_registrations') }}
    {%- if is_incremental() %}
    where user_id in ({{ users_in_scope }})
    {%- endif %}
),

converting_touches as (
    -- a touch starts a step unless the touch before it in the path has the same channel
    select
        t.user_id,
        t.registration_key,
        t.time_started,
        t.medium,
        t.is_paid,
        t.medium is distinct from lag(t.medium) over (
            partition by t.registration_key order by {{ touch_order }}
        ) as starts_step
    from {{ ref('int_registration_touches') }} as t
    where t.is_in_lookback
    {%- if is_incremental() %}
      and t.user_id in ({{ users_in_scope }})
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
        s.user_id,
        s.time_started,
        s.medium,
        s.is_paid,
        s.medium is distinct from lag(s.medium) over (partition by s.user_id order by {{ touch_order }})
            as starts_step
    from {{ ref('fct_sessions') }} as s
    where not exists (select from {{ ref('fct_registrations') }} as r where r.user_id = s.user_id)
    {%- if is_incremental() %}
      and s.user_id in ({{ users_in_scope }})
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
    r.user_id,
    r.registration_key,
    r.registration_date,
    coalesce(c.steps, '{}'::text[]) as steps,
    coalesce(c.touches, 0)::integer as touches,
    {{ hours_between('r.registration_time', 'c.first_touch_at') }} / 24.0 as days_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from registrations as r
left join converting as c on c.registration_key = r.registration_key
union all
select
    user_id,
    null::uuid,
    null::date,
    steps,
    touches::integer,
    null::double precision,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from non_converting
