{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Session rows delivered again: raw rows with an earlier copy (same values once the medium is normalised)
-- in the same or an earlier file. Staging keeps the first copy; each later copy of the loads of the latest
-- run (every load after a full build) is listed with its file and line (found by audit_session_loads).
select a._load_id, a._source_file, copy.line_number as _line_number
from {{ ref('audit_session_loads') }} as a
cross join lateral unnest(a.later_copy_lines) as copy (line_number)
where {{ loads_under_test('a._load_id', ref('audit_session_loads')) }}
