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
-- the facts' critical tests read the audit: built only once they pass
-- depends_on: {{ ref('audit_session_loads') }}
with

sessions as (
    select * from {{ ref('fct_sessions') }}
),

-- read three times: not materialised, as the seed itself
channel_mapping as not materialized (
    select * from {{ ref('channel_mapping') }}
),

attribution_rules as (
    select * from {{ ref('attribution_rules') }}
),

seen_mediums as (
    select distinct medium
    from sessions
    {% if is_incremental() %}
        where _load_id > {{ max_value(this, '_sessions_load_id') }}
        union
        select channel from {{ this }}
        where has_sessions
    {% endif %}
),

mediums as (
    select
        coalesce(channel_mapping.medium, seen_mediums.medium) as channel,
        channel_mapping.medium is not null as is_known_medium
    from channel_mapping
    full outer join seen_mediums on channel_mapping.medium = seen_mediums.medium
),

rules as (
    select
        label,
        nullif(btrim(medium), '') as medium
    from attribution_rules
),

channels as (
    select channel from mediums
    union
    select label from rules
    union
    select '{{ var("unattributed_channel") }}'
)

select
    channels.channel,
    mediums.channel is not null as is_medium,
    rules.label is not null as is_rule_label,
    channels.channel = '{{ var("unattributed_channel") }}' as is_unattributed,
    coalesce(
        own_mapping.channel_name,
        case when rules.label is not null then initcap(replace(rules.label, '_', ' ')) end,
        initcap(channels.channel)
    ) as channel_name,
    coalesce(
        own_mapping.channel_group,
        rule_medium_mapping.channel_group,
        case
            when channels.channel = '{{ var("unattributed_channel") }}' then 'Unattributed'
            when rules.label is not null then 'Other'
            else 'Unmapped'
        end
    ) as channel_group,
    coalesce(own_mapping.is_paid_channel, rule_medium_mapping.is_paid_channel) as is_paid_channel,
    mediums.is_known_medium,
    seen_mediums.medium is not null as has_sessions,
    '{{ invocation_id }}' as _invocation_id,
    {{ max_value(ref('fct_sessions'), '_load_id') }}::bigint as _sessions_load_id
from channels
left join mediums on channels.channel = mediums.channel
left join rules on channels.channel = rules.label
left join seen_mediums on channels.channel = seen_mediums.medium
-- the channel's own mapping, and that of the medium of the rule it labels
left join channel_mapping as own_mapping on channels.channel = own_mapping.medium
left join channel_mapping as rule_medium_mapping on rules.medium = rule_medium_mapping.medium
