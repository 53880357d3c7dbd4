{#
  Every delivered session row, typed and with its medium normalised, exact duplicates included (one row per
  raw row). The base of fct_sessions, which keeps the first occurrence of each distinct session (macro
  first_session_occurrences; in incremental runs a filter on _load_id here prunes the partitioned raw
  table to the new files), and of the data tests that reconcile the facts with what was delivered.
#}
with raw_sessions as (
    select * from {{ source('raw', 'sessions') }}
)

select
    user_id,
    time_started,
    -- here rather than in fct_sessions: computed by the parallel workers before the full build's sort,
    -- not by the one process that writes its output
    (time_started at time zone 'UTC')::date as session_date,
    is_paid,
    {{ normalise_medium('medium') }} as medium,
    _load_id,
    _source_file,
    _line_number,
    _loaded_at
from raw_sessions
