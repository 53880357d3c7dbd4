{{
    config(
        materialized='incremental',
        unique_key='registration_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy', 'attribution'],
        pre_hook="{{ set_work_mem() }}",
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
  incremental channel_performance reads the changed days with a scan of this table (a few tens of
  milliseconds), which costs less than building the index in every full build.
#}
{#-
  The per-load audits are no input, but the facts' critical tests (reconciliation with raw, not null,
  relationships) read them; in a build a test holds back only the models downstream of all the tables it
  reads, so the attribution (and all built from it) depends on the audits to stop when those tests fail.
  Here rather than on the touches view: dbt then queues this model with the dimensions, ahead of their
  tests, instead of behind them.
-#}
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
with

registrations as not materialized (
    -- read twice, yet inlined: a materialised CTE is scanned by the leader process alone, and everything
    -- joined to it then runs serially (full build: 5.1 s, inlined and parallel: 3.3 s)
    {{ registrations_in_scope(ref('fct_registrations'), ref('fct_sessions')) }}
),

rules as (
    select priority, label, nullif(btrim(medium), '') as medium, window_hours
    from {{ ref('attribution_rules') }}
),

touches as (
    select t.registration_key, t.registration_time, t.time_started, t.medium, t.is_paid
    from {{ ref('int_registration_touches') }} as t
    {#- A full build takes every registration's touches. There the filter, a join with all registrations,
        only cost time, and with the unique index on fct_registrations.registration_key Postgres made it
        an inner join ahead of the sessions (this model: 8 s -> 13 s). #}
    {%- if is_incremental() %}
    where t.registration_key in (select registration_key from registrations)
    {%- endif %}
),

winning_touch as (
    select distinct on (t.registration_key)
        t.registration_key,
        ru.label as channel,
        t.time_started,
        t.medium
    from touches as t
    join rules as ru
        on (ru.medium is null or ru.medium = t.medium)
       and (ru.window_hours is null or t.time_started >= t.registration_time - {{ hours('ru.window_hours') }})
    order by t.registration_key, ru.priority, t.time_started desc, t.medium desc, t.is_paid desc
)

select
    r.registration_key,
    r.user_id,
    r.registration_time,
    r.registration_date,
    coalesce(w.channel, '{{ var("unattributed_channel") }}') as channel,
    w.time_started as attributed_touch_time,
    w.medium as attributed_touch_medium,
    {{ hours_between('r.registration_time', 'w.time_started') }} as hours_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from registrations as r
left join winning_touch as w on w.registration_key = r.registration_key
