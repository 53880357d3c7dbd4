-- Accepted values of the rule-based channel: a label of the rules seed, or the unattributed channel.
with

rule_based_attribution as (
    select * from {{ ref('registration_attribution') }}
),

attribution_rules as (
    select * from {{ ref('attribution_rules') }}
)

select
    rule_based_attribution.channel,
    count(*) as registrations
from rule_based_attribution
left join attribution_rules on rule_based_attribution.channel = attribution_rules.label
where
    attribution_rules.label is null
    and rule_based_attribution.channel != '{{ var("unattributed_channel") }}'
group by rule_based_attribution.channel
