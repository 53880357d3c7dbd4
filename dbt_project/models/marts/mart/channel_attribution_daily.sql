{{ config(tags=['attribution'], pre_hook="{{ set_work_mem() }}") }}
{#
  Registrations per day, model and channel: the sum of the credits (fractional for multi-touch), one row
  per model that credits the channel that day. The credits are summed per day and channel first, then
  turned into rows: a few thousand rows to unpivot instead of millions.
#}
with daily as (
    select
        registration_date,
        channel,
        {{ credit_sums() }}
    from {{ ref('attribution_credits') }}
    group by registration_date, channel
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
