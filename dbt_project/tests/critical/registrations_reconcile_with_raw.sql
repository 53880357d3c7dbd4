{{ config(severity='error', tags=['critical']) }}
-- The staged registrations, as stored in fct_registrations, are raw.conversions minus its exact duplicates:
-- one row per distinct (user_id, registration_time), none lost and none doubled.
with raw_rows as (
    select count(*) as raw_rows
    from {{ source('raw', 'conversions') }}
),

distinct_registrations as (
    select count(*) as distinct_rows
    from (select distinct user_id, registration_time from {{ source('raw', 'conversions') }}) as d
),

staged as (
    -- depends on stg_conversions through fct_registrations: {{ ref('stg_conversions') }}
    select count(*) as staged_rows from {{ ref('fct_registrations') }}
)

select raw_rows, distinct_rows, raw_rows - distinct_rows as duplicate_rows, staged_rows
from raw_rows cross join distinct_registrations cross join staged
where staged_rows <> distinct_rows
