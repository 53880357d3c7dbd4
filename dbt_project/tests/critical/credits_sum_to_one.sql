{{ config(severity='error', tags=['critical']) }}
-- For every registration and every attribution model the credits sum to 1 (floating point tolerance),
-- and no credit is outside (0, 1]. Registrations (re)computed by the latest run (all after a full build).
-- One aggregation per registration (all six models side by side), not one per registration and model.
{% set models = ['rule_based', 'first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] %}
with per_registration as (
    select
        registration_key,
        {% for model in models %}
        coalesce(sum(credit) filter (where model = '{{ model }}'), 0) as {{ model }},
        {% endfor %}
        min(credit) as min_credit,
        max(credit) as max_credit
    from {{ ref('attribution_credits') }}
    where {{ recomputed_under_test() }}
    group by registration_key
),

under_test as (
    select a.registration_key
    from {{ ref('registration_attribution') }} as a
    where {{ recomputed_under_test('a.') }}
)

select u.registration_key, p.*
from under_test as u
left join per_registration as p on p.registration_key = u.registration_key
where p.registration_key is null
   {% for model in models %}
   or abs(p.{{ model }} - 1.0) > 1e-9
   {% endfor %}
   or p.min_credit <= 0
   or p.max_credit > 1.0 + 1e-9
