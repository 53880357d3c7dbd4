{{
    config(
        materialized='incremental',
        unique_key='channel',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="delete from {{ this }} where _invocation_id <> '{{ invocation_id }}'",
    )
}}
{#
  Every channel value the facts and marts use: mediums (the channel of a session and of a multi-touch
  credit), labels of the rule-based attribution (seed attribution_rules) and the unattributed channel.
  A value can be both a medium and a label (DIRECT). Mediums come from the channel_mapping seed plus any
  medium seen in the data but missing from the seed (is_known_medium = false, reported by a business test),
  so that facts always find their channel. Every run rewrites every row (the seeds may have changed; rows
  of another run are removed afterwards), but only the sessions of new loads are searched for mediums.
#}
-- built from the facts only once their critical tests (which read the per-load audits) have passed
-- depends_on: {{ ref('audit_session_loads') }}
with

seen_mediums as (
    select distinct medium
    from {{ ref('fct_sessions') }}
    {% if is_incremental() %}
    where _load_id > {{ max_value(this, '_sessions_load_id') }}
    union
    select channel from {{ this }} where has_sessions
    {% endif %}
),

mediums as (
    select coalesce(m.medium, s.medium) as channel, m.medium is not null as is_known_medium
    from {{ ref('channel_mapping') }} as m
    full join seen_mediums as s on s.medium = m.medium
),

rules as (
    select label, nullif(btrim(medium), '') as medium
    from {{ ref('attribution_rules') }}
),

channels as (
    select channel from mediums
    union
    select label from rules
    union
    select '{{ var("unattributed_channel") }}'
)

select
    c.channel,
    md.channel is not null as is_medium,
    r.label is not null as is_rule_label,
    c.channel = '{{ var("unattributed_channel") }}' as is_unattributed,
    coalesce(
        own.channel_name,
        case when r.label is not null then initcap(replace(r.label, '_', ' ')) end,
        initcap(c.channel)
    ) as channel_name,
    coalesce(
        own.channel_group,
        rule_medium.channel_group,
        case
            when c.channel = '{{ var("unattributed_channel") }}' then 'Unattributed'
            when r.label is not null then 'Other'
            else 'Unmapped'
        end
    ) as channel_group,
    coalesce(own.is_paid_channel, rule_medium.is_paid_channel) as is_paid_channel,
    md.is_known_medium,
    sm.medium is not null as has_sessions,
    '{{ invocation_id }}' as _invocation_id,
    {{ max_value(ref('fct_sessions'), '_load_id') }}::bigint as _sessions_load_id
from channels as c
left join mediums as md on md.channel = c.channel
left join rules as r on r.label = c.channel
left join seen_mediums as sm on sm.medium = c.channel
left join {{ ref('channel_mapping') }} as own on own.medium = c.channel
left join {{ ref('channel_mapping') }} as rule_medium on rule_medium.medium = r.medium
