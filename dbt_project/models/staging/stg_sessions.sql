{#
  Sessions, typed and normalised, one row per distinct session: exact duplicates -- the same user,
  start time, paid flag and medium once trimmed and upper-cased -- collapse into their first occurrence
  (lowest load, then line). Written as "keep a row unless an earlier copy exists" rather than GROUP BY so
  that a filter on the lineage columns (fct_sessions reads only new loads) reaches the partitioned raw
  table and prunes it to the new files. On a full read Postgres runs this as one parallel hash anti-join.
#}
with source as (

    select
        user_id,
        time_started,
        is_paid,
        {{ normalise_medium('medium') }} as medium,
        _load_id,
        _source_file,
        _line_number,
        _loaded_at
    from {{ source('raw', 'sessions') }}

)

select
    s.user_id,
    s.time_started,
    s.is_paid,
    s.medium,
    s._load_id,
    s._source_file,
    s._line_number,
    s._loaded_at
from source as s
where not exists (
    select 1
    from {{ source('raw', 'sessions') }} as earlier
    where earlier.user_id = s.user_id
      and earlier.time_started = s.time_started
      -- compared outside the hash key on purpose: (user_id, time_started) is nearly unique, and hashing
      -- the normalised text of every raw row made this join four times slower
      and (earlier.is_paid, {{ normalise_medium('earlier.medium') }}) is not distinct from (s.is_paid, s.medium)
      and (earlier._load_id, earlier._line_number) < (s._load_id, s._line_number)
)
