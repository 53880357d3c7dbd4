{{ config(severity='error', tags=['critical']) }}
-- For every registration and every attribution model the credits sum to 1 (floating point tolerance),
-- and no credit is outside (0, 1].
with models (model) as (
    values ('rule_based'), ('first_touch'), ('last_touch'), ('linear'), ('time_decay'), ('position_based')
),

sums as (
    select
        registration_key,
        model,
        sum(credit) as total_credit,
        min(credit) as min_credit,
        max(credit) as max_credit
    from {{ ref('attribution_credits') }}
    group by registration_key, model
)

select r.registration_key, m.model, s.total_credit, s.min_credit, s.max_credit
from {{ ref('fct_registrations') }} as r
cross join models as m
left join sums as s on s.registration_key = r.registration_key and s.model = m.model
where s.total_credit is null
   or abs(s.total_credit - 1.0) > 1e-9
   or s.min_credit <= 0
   or s.max_credit > 1.0 + 1e-9
