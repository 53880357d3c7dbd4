{{ config(severity='error', tags=['critical']) }}
-- Every registration appears exactly once in the rule-based attribution (none dropped, none doubled),
-- both in registration_attribution and as the one row of attribution_credits with rule-based credit, on
-- the same channel, and no attribution row lacks its registration. Registrations of the latest run's
-- loads and rows (re)computed by the latest run (everything after a full build).
-- Two full joins and no counts: the unique indexes of registration_attribution (registration_key) and
-- attribution_credits (registration_key, channel), which the unique_index_enforces tests check, already
-- rule out a doubled row, so a second rule-based credit of a registration can only be on another channel
-- than its attribution, and shows up as an unmatched row. (Counting rows per registration first cost
-- twice as much: two aggregates of a million groups each.)
with registrations as (
    select registration_key
    from {{ ref('fct_registrations') }}
    where {{ loads_under_test('_load_id', ref('audit_registration_loads')) }}
),

attribution as (
    select registration_key, channel
    from {{ ref('registration_attribution') }}
    where {{ recomputed_under_test() }}
),

rule_based_credits as (
    select registration_key, channel
    from {{ ref('attribution_credits') }}
    where rule_based_credit > 0
      and {{ recomputed_under_test() }}
)

-- registrations without an attribution, attributions without a registration (a new registration is always
-- recomputed; a recomputed one may be older than the latest loads)
select
    coalesce(r.registration_key, a.registration_key) as registration_key,
    a.channel as rule_based_channel,
    null as credited_channel
from registrations as r
full join attribution as a on a.registration_key = r.registration_key
where a.registration_key is null
   or (
       r.registration_key is null
       and not exists (
           select 1 from {{ ref('fct_registrations') }} as f where f.registration_key = a.registration_key
       )
   )

union all

-- attributions without their rule-based credit, rule-based credits off the attribution's channel
select
    coalesce(a.registration_key, c.registration_key) as registration_key,
    a.channel as rule_based_channel,
    c.channel as credited_channel
from attribution as a
full join rule_based_credits as c on c.registration_key = a.registration_key and c.channel = a.channel
where a.registration_key is null or c.registration_key is null
