{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ tune_postgres_session(parallel=is_incremental()) }}",
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
  goes parallel.
#}
{% if is_incremental() %}
    {% set sessions_wm, registrations_wm = stored_watermarks(this) %}
    {% set changed_days_query %}
        select session_date from {{ ref('fct_sessions') }} where _load_id > {{ sessions_wm }}
        union
        select registration_date from {{ ref('registration_attribution') }}
        where _sessions_load_id > {{ sessions_wm }} or _registrations_load_id > {{ registrations_wm }}
    {% endset %}
    {#- as literals the few changed days filter the scans of fct_sessions and registration_attribution
        directly (as a subquery, Postgres planned a join of every session with the channels first) -#}
    {% set changed_day_list = date_literals(changed_days_query) %}
{% endif %}

with

attribution_rules as (
    select * from {{ ref('attribution_rules') }}
),

channels as (
    select * from {{ ref('dim_channel') }}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
),

rule_based_attribution as (
    select * from {{ ref('registration_attribution') }}
),

rules as (
    select
        label,
        nullif(btrim(medium), '') as medium,
        priority
    from attribution_rules
),

medium_to_rule_channel as (
    -- each medium to the first rule naming it, others to the first rule without a medium
    select distinct on (channels.channel)
        channels.channel as medium,
        rules.label as channel
    from channels
    inner join rules on channels.channel = rules.medium or rules.medium is null
    where channels.is_medium
    order by channels.channel asc, (rules.medium is null) asc, rules.priority asc
),

session_channels as (
    -- every session with its channel, in (user, day, channel) order: fct_sessions is stored and indexed
    -- by user, so this is an index scan with small sorts per user, and counting the users below is a
    -- streaming aggregate rather than a hash aggregate of millions of user x day x channel groups. The
    -- channel comes from a medium -> channel map built once, not from a join, which would lose the index
    -- order.
    select
        sessions.user_id,
        sessions.session_date as activity_date,
        coalesce(
            (
                select jsonb_object_agg(medium_to_rule_channel.medium, medium_to_rule_channel.channel)
                from medium_to_rule_channel
            ) ->> sessions.medium,
            (
                select rules.label from rules
                where rules.medium is null
                order by rules.priority asc limit 1
            )
        ) as channel
    from sessions
    {% if is_incremental() %}
        where sessions.session_date in ({{ changed_day_list }})
    {% endif %}
    order by sessions.user_id asc, activity_date asc, channel asc
),

sessions_per_user_day as (
    select
        activity_date,
        channel,
        user_id,
        count(*) as sessions
    from session_channels
    group by user_id, activity_date, channel
),

session_totals as (
    select
        activity_date,
        channel,
        sum(sessions)::bigint as sessions,
        count(*) as users
    from sessions_per_user_day
    group by activity_date, channel
),

registration_totals as (
    select
        registration_date as activity_date,
        channel,
        count(*) as registrations_attributed,
        avg(hours_to_convert) as mean_hours_to_convert,
        percentile_cont(0.5) within group (order by hours_to_convert) as median_hours_to_convert
    from rule_based_attribution
    {% if is_incremental() %}
        where registration_date in ({{ changed_day_list }})
    {% endif %}
    group by registration_date, channel
)

select
    coalesce(session_totals.activity_date, registration_totals.activity_date) as activity_date,
    coalesce(session_totals.channel, registration_totals.channel) as channel,
    coalesce(session_totals.sessions, 0) as sessions,
    coalesce(session_totals.users, 0) as users,
    coalesce(registration_totals.registrations_attributed, 0) as registrations_attributed,
    case
        when session_totals.users > 0
            then coalesce(registration_totals.registrations_attributed, 0)::double precision / session_totals.users
    end as conversion_rate,
    registration_totals.mean_hours_to_convert,
    registration_totals.median_hours_to_convert,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from session_totals
full outer join registration_totals
    on
        session_totals.activity_date = registration_totals.activity_date
        and session_totals.channel = registration_totals.channel
