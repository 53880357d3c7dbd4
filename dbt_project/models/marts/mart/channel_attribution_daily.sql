{{ config(tags=['attribution'], pre_hook="{{ set_work_mem() }}") }}
{# Registrations per day, model and channel: the sum of the credits (fractional for multi-touch). #}
select
    registration_date,
    model,
    channel,
    sum(credit) as registrations
from {{ ref('attribution_credits') }}
group by registration_date, model, channel
