{#
  Sessions, typed and normalised, one row per distinct session: exact duplicates -- the same user,
  start time, paid flag and medium once trimmed and upper-cased -- collapse into their first occurrence
  (lowest load, then line). One sort and one pass (DISTINCT ON), no self-join; the output comes in key
  order, so that fct_sessions is stored clustered by user and time and its unique index builds from
  presorted input. Incremental appends to fct_sessions dedupe only the new loads (against the stored facts).
#}
select distinct on (user_id, time_started, medium, is_paid)
    user_id,
    time_started,
    is_paid,
    medium,
    _load_id,
    _source_file,
    _line_number,
    _loaded_at
from {{ ref('stg_sessions_delivered') }}
order by user_id, time_started, medium, is_paid, _load_id, _line_number
