-- Every registration appears exactly once in the rule-based attribution (none dropped, none doubled),
-- both in registration_attribution and as the one row of attribution_credits with rule-based credit, on
-- the same channel, and no attribution row lacks its registration. What the latest run of each table
-- (re)computed is checked against the other table as it stands: the two can have been last run by
-- different builds (one interrupted), so their "latest" rows need not be the same registrations.
-- No counts: the unique indexes of registration_attribution (registration_key) and attribution_credits
-- (registration_key, channel), which the unique_index_enforces tests check, already rule out a doubled row,
-- so a second rule-based credit of a registration can only be on another channel than its attribution.
with new_registrations as (
    select registration_key
    from {{ ref('fct_registrations') }}
    where {{ latest_run_loads_filter('_load_id', ref('audit_registration_loads')) }}
),

recomputed_attribution as (
    select
        registration_key,
        channel
    from {{ ref('registration_attribution') }}
    where {{ latest_run_rows_filter() }}
),

recomputed_rule_based_credits as (
    select
        registration_key,
        channel
    from {{ ref('attribution_credits') }}
    where rule_based_credit > 0
        and {{ latest_run_rows_filter() }}
),

all_registrations as not materialized (
    select registration_key from {{ ref('fct_registrations') }}
),

all_attribution as not materialized (
    select
        registration_key,
        channel
    from {{ ref('registration_attribution') }}
),

all_rule_based_credits as not materialized (
    select
        registration_key,
        channel
    from {{ ref('attribution_credits') }}
    where rule_based_credit > 0
)

select
    new_registrations.registration_key,
    'registration without an attribution' as problem
from new_registrations
where
    not exists (
        select 1
        from all_attribution
        where new_registrations.registration_key = all_attribution.registration_key
    )

union all

select
    recomputed_attribution.registration_key,
    'attribution without a registration' as problem
from recomputed_attribution
where
    not exists (
        select 1
        from all_registrations
        where recomputed_attribution.registration_key = all_registrations.registration_key
    )

union all

select
    recomputed_attribution.registration_key,
    'attribution without a rule-based credit on its channel' as problem
from recomputed_attribution
where
    not exists (
        select 1
        from all_rule_based_credits
        where
            recomputed_attribution.registration_key = all_rule_based_credits.registration_key
            and recomputed_attribution.channel = all_rule_based_credits.channel
    )

union all

select
    recomputed_rule_based_credits.registration_key,
    'rule-based credit off the attribution''s channel' as problem
from recomputed_rule_based_credits
where
    not exists (
        select 1
        from all_attribution
        where
            recomputed_rule_based_credits.registration_key = all_attribution.registration_key
            and recomputed_rule_based_credits.channel = all_attribution.channel
    )
