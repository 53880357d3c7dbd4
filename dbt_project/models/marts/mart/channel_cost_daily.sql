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
with

spend as (
    select * from {{ ref('stg_spend') }}
),

-- read twice (by priority, then the catch-all): not materialised, as the seed itself
attribution_rules as not materialized (
    select * from {{ ref('attribution_rules') }}
),

daily_attribution as (
    select * from {{ ref('channel_attribution_daily') }}
),

spend_by_medium as (
    select
        spend_date,
        medium,
        sum(spend) as spend
    from spend
    group by spend_date, medium
),

rule_channel as (
    select
        spent_medium.medium,
        coalesce(
            (
                select attribution_rules.label
                from attribution_rules
                where {{ normalise_medium('attribution_rules.medium') }} = spent_medium.medium
                order by attribution_rules.priority asc
                limit 1
            ),
            (
                select attribution_rules.label
                from attribution_rules
                where attribution_rules.medium is null or btrim(attribution_rules.medium) = ''
                order by attribution_rules.priority asc
                limit 1
            ),
            '{{ var("unattributed_channel") }}'
        ) as channel
    from (select distinct spend_by_medium.medium from spend_by_medium) as spent_medium
),

spend_by_channel as (
    select
        spend_by_medium.spend_date,
        'rule_based' as model,
        rule_channel.channel,
        sum(spend_by_medium.spend) as spend
    from spend_by_medium
    inner join rule_channel on spend_by_medium.medium = rule_channel.medium
    group by spend_by_medium.spend_date, rule_channel.channel
    union all
    select
        spend_by_medium.spend_date,
        multi_touch_model.model,
        spend_by_medium.medium as channel,
        spend_by_medium.spend
    from spend_by_medium
    cross join (
        values
        {% for model in attribution_models() if model != 'rule_based' %}
            ('{{ model }}'),
        {% endfor %}
        ('markov')
    ) as multi_touch_model (model)
),

joined as (
    select
        coalesce(spend_by_channel.spend_date, daily_attribution.registration_date) as date_day,
        coalesce(spend_by_channel.model, daily_attribution.model) as model,
        coalesce(spend_by_channel.channel, daily_attribution.channel) as channel,
        coalesce(spend_by_channel.spend, 0) as spend,
        coalesce(daily_attribution.registrations, 0) as registrations
    from spend_by_channel
    full outer join daily_attribution
        on
            spend_by_channel.spend_date = daily_attribution.registration_date
            and spend_by_channel.model = daily_attribution.model
            and spend_by_channel.channel = daily_attribution.channel
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
