{{ config(tags=['attribution'], pre_hook="{{ set_work_mem() }}") }}
{#
  Registrations per day, model and channel: the sum of the credits (fractional for multi-touch), one row
  per model that credits the channel that day. The credits are summed per day and channel first, then
  turned into rows: a few thousand rows to unpivot instead of millions.
  Model markov: the registrations per day and path (user_paths), times each channel's credit for that path
  (macro markov_credits) -- the sum of the per-registration credits of markov_credits.
#}
with daily as (
    select
        registration_date,
        channel,
        {{ credit_sums() }}
    from {{ ref('attribution_credits') }}
    group by registration_date, channel
),

markov_daily as (
    select s.registration_date, c.channel, sum(s.registrations * c.credit) as registrations
    from (
        select registration_date, steps, count(*) as registrations
        from {{ ref('user_paths') }}
        where registration_key is not null
        group by registration_date, steps
    ) as s
    cross join lateral {{ markov_credits('s.steps') }} as c
    group by s.registration_date, c.channel
)

select d.registration_date, m.model, d.channel, m.registrations
from daily as d
cross join lateral (
    values
        {% for model in attribution_models() %}
        ('{{ model }}', d.{{ model }}){{ "," if not loop.last }}
        {% endfor %}
) as m (model, registrations)
where m.registrations > 0
union all
select registration_date, 'markov', channel, registrations
from markov_daily
where registrations > 0
