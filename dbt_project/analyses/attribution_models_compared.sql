-- How the attribution models differ: share of all registrations credited to each channel, one column per
-- model. `dbt compile --select attribution_models_compared` prints the SQL to run.
{% set models = attribution_models() %}
with totals as (
    select
        channel,
        {{ credit_sums() }}
    from {{ ref('attribution_credits') }}
    group by channel
)

select
    channel,
    {% for model in models %}
        round((100 * {{ model }} / sum({{ model }}) over ())::numeric, 1) as {{ model }}_pct
        {%- if not loop.last %},{% endif %}
    {% endfor %}
from totals
order by channel
