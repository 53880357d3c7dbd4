{{ config(severity='error', tags=['critical']) }}
-- Every registration appears exactly once in the rule-based attribution (none dropped, none doubled),
-- both in registration_attribution and as model rule_based in attribution_credits, and no attribution
-- row lacks its registration. Registrations of the latest run's loads and rows (re)computed by the latest
-- run (everything after a full build), looked up through the registration_key indexes.
with under_test as (
    select registration_key
    from {{ ref('fct_registrations') }}
    where {{ loads_under_test('_load_id', ref('audit_registration_loads')) }}
    union
    select registration_key
    from {{ ref('registration_attribution') }}
    where {{ recomputed_under_test() }}
    union
    select registration_key
    from {{ ref('attribution_credits') }}
    where model = 'rule_based'
      and {{ recomputed_under_test() }}
),

attribution as (
    select a.registration_key, count(*) as rows_in_attribution
    from {{ ref('registration_attribution') }} as a
    join under_test as u on u.registration_key = a.registration_key
    group by a.registration_key
),

credits as (
    select c.registration_key, count(*) as rule_based_rows
    from {{ ref('attribution_credits') }} as c
    join under_test as u on u.registration_key = c.registration_key
    where c.model = 'rule_based'
    group by c.registration_key
)

select
    u.registration_key,
    coalesce(a.rows_in_attribution, 0) as rows_in_attribution,
    coalesce(c.rule_based_rows, 0) as rule_based_rows,
    r.registration_key is not null as is_registration
from under_test as u
left join {{ ref('fct_registrations') }} as r on r.registration_key = u.registration_key
left join attribution as a on a.registration_key = u.registration_key
left join credits as c on c.registration_key = u.registration_key
where r.registration_key is null
   or coalesce(a.rows_in_attribution, 0) <> 1
   or coalesce(c.rule_based_rows, 0) <> 1
