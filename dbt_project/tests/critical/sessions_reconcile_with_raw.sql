-- The staged sessions, as stored in fct_sessions, are raw.sessions minus its exact duplicates (raw rows with
-- an earlier copy): none lost and none doubled -- by staging or by any incremental run. Load by load, from
-- the counts audit_session_loads took of raw and of the facts for each load; the loads of the latest run
-- (every load after a full build).
-- a failure must stop what is built from fct_sessions, whose counts the audit holds
-- depends_on: {{ ref('fct_sessions') }}
with load_audits as (
    select * from {{ ref('audit_session_loads') }}
)

select
    _load_id,
    _source_file,
    raw_rows,
    later_copies,
    staged_sessions
from load_audits
where
    {{ latest_run_loads_filter('_load_id', ref('audit_session_loads')) }}
    and staged_sessions != raw_rows - later_copies
