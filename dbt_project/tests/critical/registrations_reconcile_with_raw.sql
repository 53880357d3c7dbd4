{{ config(severity='error', tags=['critical']) }}
-- The staged registrations, as stored in fct_registrations, are raw.conversions minus its exact duplicates
-- (raw rows with an earlier copy): none lost and none doubled. Load by load, so that
-- var('tests_from_load_id') can limit the check to new loads.
-- Depends on stg_conversions through fct_registrations: {{ ref('stg_conversions') }}
with raw_rows as (
    select count(*) as raw_rows
    from {{ source('raw', 'conversions') }}
    where {{ loads_under_test('_load_id') }}
),

later_copies as (
    select count(*) as duplicate_rows
    from {{ source('raw', 'conversions') }} as d
    where {{ loads_under_test('d._load_id') }}
      and exists (
        select 1
        from {{ source('raw', 'conversions') }} as earlier
        where earlier.user_id = d.user_id
          and earlier.registration_time = d.registration_time
          and (earlier._load_id, earlier._line_number) < (d._load_id, d._line_number)
    )
),

staged as (
    select count(*) as staged_rows
    from {{ ref('fct_registrations') }}
    where {{ loads_under_test('_load_id') }}
)

select raw_rows, duplicate_rows, staged_rows
from raw_rows cross join later_copies cross join staged
where staged_rows <> raw_rows - duplicate_rows
