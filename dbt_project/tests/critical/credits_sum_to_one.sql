-- For every registration and every attribution model the credits sum to 1 (floating point tolerance),
-- no credit is null or outside [0, 1], and no row credits nothing. The credits (re)computed by the
-- latest run (all after a full build), one aggregation per registration for all six models. That every
-- registration has credits, and the rule-based credit the channel of registration_attribution, is
-- checked by one_rule_based_row_per_registration.
{% set models = attribution_models() %}
{% set credit_columns %}{% for model in models %}{{ model }}_credit{{ ", " if not loop.last }}{% endfor %}{% endset %}
with per_registration as (
    select
        registration_key,
        {{ credit_sums() }},
        count(*) filter (
            where num_nulls({{ credit_columns }}) > 0
            or least({{ credit_columns }}) < 0
            or greatest({{ credit_columns }}) > 1.0 + 1e-9
            or greatest({{ credit_columns }}) <= 0
        ) as bad_rows
    from {{ ref('attribution_credits') }}
    where {{ latest_run_rows_filter() }}
    group by registration_key
)

select *
from per_registration
where bad_rows > 0
    {% for model in models %}
        or abs({{ model }} - 1.0) > 1e-9
    {% endfor %}
