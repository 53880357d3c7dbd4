{{ config(severity='error', tags=['critical']) }}
-- Staging keeps exactly one row per distinct registration of raw.conversions: raw rows minus duplicates.
with raw_counts as (
    select count(*) as raw_rows
    from {{ source('raw', 'conversions') }}
),

distinct_registrations as (
    select count(*) as distinct_rows
    from (select distinct user_id, registration_time from {{ source('raw', 'conversions') }}) as d
),

staged as (
    select count(*) as staged_rows from {{ ref('stg_conversions') }}
)

select raw_rows, distinct_rows, staged_rows, raw_rows - distinct_rows as duplicate_rows
from raw_counts cross join distinct_registrations cross join staged
where staged_rows <> distinct_rows
