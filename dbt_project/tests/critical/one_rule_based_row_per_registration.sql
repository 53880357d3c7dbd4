{{ config(severity='error', tags=['critical']) }}
-- Every registration appears exactly once in the rule-based attribution (none dropped, none doubled),
-- both in registration_attribution and as model rule_based in attribution_credits.
with attribution as (
    select registration_key, count(*) as rows_in_attribution
    from {{ ref('registration_attribution') }}
    group by registration_key
),

credits as (
    select registration_key, count(*) as rule_based_rows
    from {{ ref('attribution_credits') }}
    where model = 'rule_based'
    group by registration_key
)

select
    coalesce(r.registration_key, a.registration_key, c.registration_key) as registration_key,
    coalesce(a.rows_in_attribution, 0) as rows_in_attribution,
    coalesce(c.rule_based_rows, 0) as rule_based_rows,
    r.registration_key is not null as is_registration
from {{ ref('fct_registrations') }} as r
full join attribution as a on a.registration_key = r.registration_key
full join credits as c on c.registration_key = coalesce(r.registration_key, a.registration_key)
where r.registration_key is null
   or coalesce(a.rows_in_attribution, 0) <> 1
   or coalesce(c.rule_based_rows, 0) <> 1
