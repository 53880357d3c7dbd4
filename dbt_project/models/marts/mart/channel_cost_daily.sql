{{ config(tags=['attribution']) }}
{#
  Spend, registrations and cost per registration per day, model and channel. Rebuilt in full on every run:
  its rows are days x models x channels (a few thousand), read from channel_attribution_daily and the
  spend per day and medium.
  A medium's spend goes to the channel of that medium: the medium itself in the multi-touch and Markov
  models, and in rule_based the label of the rule for that medium (the first by priority), else the label
  of the catch-all rule (no medium; the first by priority), else the unattributed channel. Spend on a day
  or channel without registrations keeps its row (registrations 0, cost_per_registration null); a channel
  with registrations and no spend has spend 0.
#}
with spend_by_medium as (
    select spend_date, medium, sum(spend) as spend
    from {{ ref('stg_spend') }}
    group by spend_date, medium
),

rule_channel as (
    select
        m.medium,
        coalesce(
            (
                select r.label from {{ ref('attribution_rules') }} as r
                where {{ normalise_medium('r.medium') }} = m.medium
                order by r.priority limit 1
            ),
            (
                select r.label from {{ ref('attribution_rules') }} as r
                where r.medium is null or btrim(r.medium) = ''
                order by r.priority limit 1
            ),
            '{{ var("unattributed_channel") }}'
        ) as channel
    from (select distinct medium from spend_by_medium) as m
),

spend_by_channel as (
    select s.spend_date, 'rule_based' as model, r.channel, sum(s.spend) as spend
    from spend_by_medium as s
    inner join rule_channel as r on s.medium = r.medium
    group by s.spend_date, r.channel
    union all
    select s.spend_date, m.model, s.medium as channel, s.spend
    from spend_by_medium as s
    cross join (
        values
            {% for model in attribution_models() if model != 'rule_based' %}
            ('{{ model }}'),
            {% endfor %}
            ('markov')
    ) as m (model)
),

joined as (
    select
        coalesce(s.spend_date, a.registration_date) as date_day,
        coalesce(s.model, a.model) as model,
        coalesce(s.channel, a.channel) as channel,
        coalesce(s.spend, 0) as spend,
        coalesce(a.registrations, 0) as registrations
    from spend_by_channel as s
    full outer join {{ ref('channel_attribution_daily') }} as a
        on s.spend_date = a.registration_date and s.model = a.model and s.channel = a.channel
)

select
    date_day,
    model,
    channel,
    spend,
    registrations,
    spend / nullif(registrations, 0) as cost_per_registration,
    '{{ var("reporting_currency") }}' as currency
from joined
