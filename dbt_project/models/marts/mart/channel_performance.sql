{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ set_work_mem(parallel=is_incremental()) }}",
        indexes=[{'columns': ['activity_date']}],
    )
}}
{#
  Per rule-based channel per day (UTC): sessions, distinct users with a session, registrations attributed
  to the channel that day (rule-based), conversion rate (registrations / users) and mean / median hours
  from the attributed touch to the registration. A session counts for the channel of the rule for its
  medium (e.g. PAID SEARCH -> PAID_SEARCH), mediums without a rule for the catch-all rule (OTHERS).
  Incremental runs recompute the days that got new sessions or whose registrations were (re)attributed.
  A full build runs in one process, beside attribution_credits on the build's critical path; an
  incremental run is short of work for both cores, and its scan of every session for the changed days
  goes parallel (0.8 s -> 0.6 s alone).
#}
{% if is_incremental() %}
    {% set sessions_wm, registrations_wm = stored_watermarks(this) %}
    {% set changed_days_query %}
        select session_date from {{ ref('fct_sessions') }} where _load_id > {{ sessions_wm }}
        union
        select registration_date from {{ ref('registration_attribution') }}
        where _sessions_load_id > {{ sessions_wm }} or _registrations_load_id > {{ registrations_wm }}
    {% endset %}
    {#- Read at compile time, like the watermarks: as literals the few changed days filter the scans of
        fct_sessions and registration_attribution directly (as a subquery, Postgres planned a join of
        every session with the channels before filtering). -#}
    {% set changed_days = run_query(changed_days_query).columns[0].values() if execute else [] %}
    {% set changed_day_list %}
        {%- for day in changed_days %}'{{ day }}'::date{{ ", " if not loop.last }}{% endfor -%}
        {{- "null::date" if not changed_days -}}
    {% endset %}
{% endif %}

with

rules as (
    select label, nullif(btrim(medium), '') as medium, priority
    from {{ ref('attribution_rules') }}
),

medium_channel as (
    -- each medium to the first rule naming it, others to the first rule without a medium
    select distinct on (m.channel) m.channel as medium, r.label as channel
    from {{ ref('dim_channel') }} as m
    join rules as r on r.medium = m.channel or r.medium is null
    where m.is_medium
    order by m.channel, (r.medium is null), r.priority
),

session_channels as (
    -- every session with its channel, in (user, day, channel) order: fct_sessions is stored and indexed
    -- by user, so this is an index scan with small sorts per user, and counting the users below is a
    -- streaming aggregate. (A hash aggregate of the millions of user x day x channel groups took twice as
    -- long.) The channel comes from a medium -> channel map built once, not from a join, which would lose
    -- the index order.
    select
        s.user_id,
        s.session_date as activity_date,
        coalesce(
            (select jsonb_object_agg(medium, channel) from medium_channel) ->> s.medium,
            (select label from rules where medium is null order by priority limit 1)
        ) as channel
    from {{ ref('fct_sessions') }} as s
    {% if is_incremental() %}
    where s.session_date in ({{ changed_day_list }})
    {% endif %}
    order by 1, 2, 3
),

user_days as (
    select activity_date, channel, user_id, count(*) as sessions
    from session_channels
    group by user_id, activity_date, channel
),

sessions as (
    select activity_date, channel, sum(sessions)::bigint as sessions, count(*) as users
    from user_days
    group by 1, 2
),

registrations as (
    select
        registration_date as activity_date,
        channel,
        count(*) as registrations_attributed,
        avg(hours_to_convert) as mean_hours_to_convert,
        percentile_cont(0.5) within group (order by hours_to_convert) as median_hours_to_convert
    from {{ ref('registration_attribution') }}
    {% if is_incremental() %}
    where registration_date in ({{ changed_day_list }})
    {% endif %}
    group by 1, 2
)

select
    coalesce(s.activity_date, r.activity_date) as activity_date,
    coalesce(s.channel, r.channel) as channel,
    coalesce(s.sessions, 0) as sessions,
    coalesce(s.users, 0) as users,
    coalesce(r.registrations_attributed, 0) as registrations_attributed,
    case when s.users > 0 then coalesce(r.registrations_attributed, 0)::double precision / s.users end
        as conversion_rate,
    r.mean_hours_to_convert,
    r.median_hours_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from sessions as s
full join registrations as r on r.activity_date = s.activity_date and r.channel = s.channel
