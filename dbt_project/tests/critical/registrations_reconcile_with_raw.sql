-- The staged registrations, as stored in fct_registrations, are raw.conversions minus its exact duplicates
-- (raw rows with an earlier copy): none lost and none doubled. Load by load, from the counts
-- audit_registration_loads took of raw and of the facts for each load; the loads of the latest run (every
-- load after a full build).
-- a failure must stop what is built from fct_registrations, whose counts the audit holds
-- depends_on: {{ ref('fct_registrations') }}
with load_audits as (
    select * from {{ ref('audit_registration_loads') }}
)

select
    _load_id,
    _source_file,
    raw_rows,
    later_copies,
    staged_registrations
from load_audits
where
    {{ latest_run_loads_filter('_load_id', ref('audit_registration_loads')) }}
    and staged_registrations != raw_rows - later_copies
