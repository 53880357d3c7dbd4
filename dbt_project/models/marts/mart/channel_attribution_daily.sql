{{ config(tags=['attribution'], pre_hook="{{ tune_postgres_session() }}") }}
{#
  Registrations per day, model and channel: the sum of the credits (fractional for multi-touch), one row
  per model that credits the channel that day. The credits are summed per day and channel first, then
  turned into rows: a few thousand rows to unpivot instead of millions.
  Model markov: the registrations per day and path (user_paths), times each channel's credit for that path
  (macro markov_credits) -- the sum of the per-registration credits of markov_credits.
#}
with

credits as (
    select * from {{ ref('attribution_credits') }}
),

paths as (
    select * from {{ ref('user_paths') }}
),

removal_effects as (
    select * from {{ ref('markov_channel_attribution') }}
),

daily_credits as (
    select
        registration_date,
        channel,
        {{ credit_sums() }}
    from credits
    group by registration_date, channel
),

daily_paths as (
    select
        registration_date,
        steps,
        count(*) as registrations
    from paths
    where registration_key is not null
    group by registration_date, steps
),

markov_daily as (
    select
        daily_paths.registration_date,
        path_credit.channel,
        sum(daily_paths.registrations * path_credit.credit) as registrations
    from daily_paths
    cross join lateral {{ markov_credits('daily_paths.steps', 'removal_effects') }} as path_credit
    group by daily_paths.registration_date, path_credit.channel
)

select
    daily_credits.registration_date,
    model_credit.model,
    daily_credits.channel,
    model_credit.registrations
from daily_credits
cross join
    lateral (
        values
        {% for model in attribution_models() %}
            ('{{ model }}', daily_credits.{{ model }}){{ "," if not loop.last }}
        {% endfor %}
    ) as model_credit (model, registrations)
where model_credit.registrations > 0
union all
select
    registration_date,
    'markov' as model,
    channel,
    registrations
from markov_daily
where registrations > 0
