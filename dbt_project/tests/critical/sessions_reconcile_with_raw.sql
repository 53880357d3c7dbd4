{{ config(severity='error', tags=['critical']) }}
-- The staged sessions, as stored in fct_sessions, are raw.sessions minus its exact duplicates (raw rows with
-- an earlier copy): none lost and none doubled -- by staging or by any incremental run. Checked on the
-- stored table rather than the stg_sessions view: one pass over raw instead of two, and it also guards the
-- incremental appends. Load by load, so that var('tests_from_load_id') can limit the check to new
-- loads. Depends on stg_sessions through fct_sessions: {{ ref('stg_sessions') }}
with raw_rows as (
    select count(*) as raw_rows
    from {{ source('raw', 'sessions') }}
    where {{ loads_under_test('_load_id') }}
),

later_copies as (
    select count(*) as duplicate_rows
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
),

staged as (
    select count(*) as staged_rows
    from {{ ref('fct_sessions') }}
    where {{ loads_under_test('_load_id') }}
)

select raw_rows, duplicate_rows, staged_rows
from raw_rows cross join later_copies cross join staged
where staged_rows <> raw_rows - duplicate_rows
