{{
    config(
        materialized='incremental',
        unique_key='registration_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy', 'attribution'],
        pre_hook="{{ tune_postgres_session() }}",
        indexes=[
            {'columns': ['registration_key'], 'unique': True},
            {'columns': ['user_id']},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  The growth team's rule-based attribution: one row per registration.
  Touches: the user's sessions with time_started <= registration_time. Rules (seed attribution_rules) are
  tried by priority; a rule matches a touch with its medium (any medium when the rule has none) that
  started at most window_hours before the registration (inclusive; no window = any time before). The
  first rule with a matching touch wins and the attributed touch is its latest matching touch (ties on
  time: the last in the order medium, is_paid -- the order of the multi-touch models). No touch at all:
  var('unattributed_channel').
  One DISTINCT ON pass over (touch x matching rule), no anti-joins.
  Indexes: user_id for the snapshot's lookups of the users it checks. None on registration_date: the
  incremental channel_performance reads the changed days with a scan of this table, which costs less than
  building the index in every full build.
#}
-- the facts' critical tests read the audits: built only once they pass (here rather than on the touches
-- view, so that dbt queues this model with the dimensions, ahead of their tests)
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
with

attribution_rules as (
    select * from {{ ref('attribution_rules') }}
),

registration_touches as (
    select * from {{ ref('int_registration_touches') }}
),

registrations as not materialized (
    -- read twice, yet inlined: a materialised CTE is scanned by the leader process alone, and everything
    -- joined to it then runs serially
    {{ registrations_in_scope(ref('fct_registrations'), ref('fct_sessions')) }}
),

rules as (
    select
        priority,
        label,
        nullif(btrim(medium), '') as medium,
        window_hours
    from attribution_rules
),

touches as (
    select
        registration_touches.registration_key,
        registration_touches.registration_time,
        registration_touches.time_started,
        registration_touches.medium,
        registration_touches.is_paid
    {#- A full build takes every registration's touches: there a filter, a join with all registrations,
        only costs time, and Postgres made it an inner join ahead of the sessions. #}
    {%- if is_incremental() %}
        from registrations
        inner join {{ touches_probe('registrations', 'registration_touches') }} as registration_touches on true
    {%- else %}
        from registration_touches
    {%- endif %}
),

winning_touch as (
    select distinct on (touches.registration_key)
        touches.registration_key,
        rules.label as channel,
        touches.time_started,
        touches.medium
    from touches
    inner join rules
        on
            (rules.medium is null or touches.medium = rules.medium)
            and (
                rules.window_hours is null
                or touches.time_started >= touches.registration_time - {{ hours('rules.window_hours') }}
            )
    order by
        touches.registration_key asc,
        rules.priority asc,
        touches.time_started desc,
        touches.medium desc,
        touches.is_paid desc
)

select
    registrations.registration_key,
    registrations.user_id,
    registrations.registration_time,
    registrations.registration_date,
    coalesce(winning_touch.channel, '{{ var("unattributed_channel") }}') as channel,
    winning_touch.time_started as attributed_touch_time,
    winning_touch.medium as attributed_touch_medium,
    {{ hours_between('registrations.registration_time', 'winning_touch.time_started') }} as hours_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from registrations
left join winning_touch on registrations.registration_key = winning_touch.registration_key
