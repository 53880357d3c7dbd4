{{ config(severity='error', tags=['critical']) }}
-- Accepted values of the rule-based channel: a label of the rules seed, or the unattributed channel.
select a.channel, count(*) as registrations
from {{ ref('registration_attribution') }} as a
left join {{ ref('attribution_rules') }} as r on r.label = a.channel
where r.label is null and a.channel <> '{{ var("unattributed_channel") }}'
group by a.channel
