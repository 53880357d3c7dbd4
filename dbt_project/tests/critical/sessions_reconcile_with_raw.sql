{{ config(severity='error', tags=['critical']) }}
-- Staging keeps exactly one row per distinct session of raw.sessions: raw rows minus exact duplicates.
with raw_counts as (
    select count(*) as raw_rows
    from {{ source('raw', 'sessions') }}
),

distinct_sessions as (
    select count(*) as distinct_rows
    from (
        select distinct user_id, time_started, is_paid, {{ normalise_medium('medium') }}
        from {{ source('raw', 'sessions') }}
    ) as d
),

staged as (
    select count(*) as staged_rows from {{ ref('stg_sessions') }}
)

select raw_rows, distinct_rows, staged_rows, raw_rows - distinct_rows as duplicate_rows
from raw_counts cross join distinct_sessions cross join staged
where staged_rows <> distinct_rows
