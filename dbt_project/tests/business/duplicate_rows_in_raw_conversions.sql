{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registration rows delivered again: a raw row with an earlier copy in the same or an earlier file.
-- Staging keeps the first copy; each later copy is listed with its file and line.
select d.user_id, d.registration_time, d._source_file, d._line_number
from {{ source('raw', 'conversions') }} as d
where {{ loads_under_test('d._load_id') }}
  and exists (
    select 1
    from {{ source('raw', 'conversions') }} as earlier
    where earlier.user_id = d.user_id
      and earlier.registration_time = d.registration_time
      and (earlier._load_id, earlier._line_number) < (d._load_id, d._line_number)
)
