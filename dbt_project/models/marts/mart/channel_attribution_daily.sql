{{ config(tags=['attribution'], pre_hook="{{ tune_postgres_session(parallel=true) }}") }}
{#
  Registrations per day, model and channel: the sum of the credits (fractional for multi-touch), one row
  per model that credits the channel that day. The credits come summed per day and channel
  (int_channel_credits_daily) and are turned into rows: a few thousand rows to unpivot instead of millions.
  Model markov: the registrations per day and path (path_registrations_daily), times each channel's credit for that path's set
  of channels (markov_channel_set_credits) -- the sum of the per-registration credits of markov_credits.
#}
with

daily_credits as (
    select * from {{ ref('int_channel_credits_daily') }}
),

path_registrations as (
    select * from {{ ref('path_registrations_daily') }}
),

set_credits as (
    select * from {{ ref('markov_channel_set_credits') }}
),

markov_daily as (
    select
        path_registrations.registration_date,
        set_credits.channel,
        sum(path_registrations.registrations * set_credits.markov_credit) as registrations
    from path_registrations
    inner join set_credits on path_registrations.channels = set_credits.channels
    group by path_registrations.registration_date, set_credits.channel
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
