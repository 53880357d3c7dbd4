{{ config(severity='error', tags=['critical']) }}
-- For every registration and every attribution model the credits sum to 1 (floating point tolerance),
-- and no credit is outside (0, 1]. Registrations (re)computed by the latest run (all after a full build),
-- with all their credits. One aggregation per registration (all six models side by side), not one per
-- registration and model. The credits are joined to the registrations under test before aggregating:
-- the watermark filter is estimated at one row when the statistics predate the latest run, and an
-- aggregate of the latest credits on the inner side of a nested loop would be recomputed per registration.
{% set models = ['rule_based', 'first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] %}
with under_test as (
    select a.registration_key
    from {{ ref('registration_attribution') }} as a
    where {{ recomputed_under_test('a.') }}
),

per_registration as (
    select
        u.registration_key,
        {% for model in models %}
        coalesce(sum(c.credit) filter (where c.model = '{{ model }}'), 0) as {{ model }},
        {% endfor %}
        min(c.credit) as min_credit,
        max(c.credit) as max_credit
    from under_test as u
    left join {{ ref('attribution_credits') }} as c on c.registration_key = u.registration_key
    group by u.registration_key
)

select *
from per_registration
where min_credit is null
   {% for model in models %}
   or abs({{ model }} - 1.0) > 1e-9
   {% endfor %}
   or min_credit <= 0
   or max_credit > 1.0 + 1e-9
