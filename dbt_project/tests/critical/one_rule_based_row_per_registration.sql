{{ config(severity='error', tags=['critical']) }}
-- Every registration appears exactly once in the rule-based attribution (none dropped, none doubled),
-- both in registration_attribution and as the one row of attribution_credits with rule-based credit, on
-- the same channel, and no attribution row lacks its registration. Registrations of the latest run's
-- loads and rows (re)computed by the latest run (everything after a full build).
with registrations as (
    select registration_key
    from {{ ref('fct_registrations') }}
    where {{ loads_under_test('_load_id', ref('audit_registration_loads')) }}
),

attribution as (
    select registration_key, count(*) as rows_in_attribution, min(channel) as channel
    from {{ ref('registration_attribution') }}
    where {{ recomputed_under_test() }}
    group by registration_key
),

credits as (
    select registration_key, count(*) as rule_based_rows, min(channel) as channel
    from {{ ref('attribution_credits') }}
    where rule_based_credit > 0
      and {{ recomputed_under_test() }}
    group by registration_key
),

checked as (
    -- a new registration is always recomputed; a recomputed one may be older than the latest loads
    select
        coalesce(r.registration_key, a.registration_key, c.registration_key) as registration_key,
        coalesce(a.rows_in_attribution, 0) as rows_in_attribution,
        coalesce(c.rule_based_rows, 0) as rule_based_rows,
        a.channel as rule_based_channel,
        c.channel as credited_channel,
        r.registration_key is not null
            or exists (
                select 1
                from {{ ref('fct_registrations') }} as f
                where f.registration_key = coalesce(a.registration_key, c.registration_key)
            ) as is_registration
    from registrations as r
    full join attribution as a on a.registration_key = r.registration_key
    full join credits as c on c.registration_key = coalesce(r.registration_key, a.registration_key)
)

select *
from checked
where not is_registration
   or rows_in_attribution <> 1
   or rule_based_rows <> 1
   or rule_based_channel is distinct from credited_channel
