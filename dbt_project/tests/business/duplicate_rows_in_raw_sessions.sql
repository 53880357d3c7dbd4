-- Session rows delivered again: raw rows with an earlier copy (same values once the medium is normalised)
-- in the same or an earlier file. Staging keeps the first copy; each later copy of the loads of the latest
-- run (every load after a full build) is listed with its file and line (found by audit_session_loads).
with load_audits as (
    select * from {{ ref('audit_session_loads') }}
)

select
    load_audits._load_id,
    load_audits._source_file,
    copied.line_number as _line_number
from load_audits
cross join lateral unnest(load_audits.later_copy_lines) as copied (line_number)
where {{ latest_run_loads_filter('load_audits._load_id', ref('audit_session_loads')) }}
