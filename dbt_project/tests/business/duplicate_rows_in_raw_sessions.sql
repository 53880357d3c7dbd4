{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Session rows delivered again: a raw row with an earlier copy (same values once the medium is normalised)
-- in the same or an earlier file. Staging keeps the first copy; each later copy is listed with its file
-- and line. (Joined on the nearly unique (user_id, time_started) first: one parallel hash join.)
select
    d.user_id,
    d.time_started,
    d.is_paid,
    {{ normalise_medium('d.medium') }} as medium,
    d._source_file,
    d._line_number
from {{ source('raw', 'sessions') }} as d
where {{ loads_under_test('d._load_id') }}
  and exists (
    select 1
    from {{ source('raw', 'sessions') }} as earlier
    where earlier.user_id = d.user_id
      and earlier.time_started = d.time_started
      and (earlier.is_paid, {{ normalise_medium('earlier.medium') }})
          is not distinct from (d.is_paid, {{ normalise_medium('d.medium') }})
      and (earlier._load_id, earlier._line_number) < (d._load_id, d._line_number)
)
