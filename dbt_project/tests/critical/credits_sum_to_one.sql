{{ config(severity='error', tags=['critical']) }}
-- For every registration and every attribution model the credits sum to 1 (floating point tolerance),
-- and no credit is outside (0, 1]. Registrations: new or recomputed since var('tests_from_load_id') (0: all).
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
    where {{ recomputed_under_test() }}
    group by registration_key, model
)

select r.registration_key, m.model, s.total_credit, s.min_credit, s.max_credit
from {{ ref('fct_registrations') }} as r
cross join models as m
join {{ ref('registration_attribution') }} as a on a.registration_key = r.registration_key
left join sums as s on s.registration_key = r.registration_key and s.model = m.model
where ({{ loads_under_test('r._load_id') }} or {{ recomputed_under_test('a.') }})
  and (s.total_credit is null
   or abs(s.total_credit - 1.0) > 1e-9
   or s.min_credit <= 0
   or s.max_credit > 1.0 + 1e-9)
