{{ config(severity='error', tags=['critical']) }}
-- The staged sessions, as stored in fct_sessions, are raw.sessions minus its exact duplicates: one row per
-- distinct session, none lost and none doubled -- by staging or by any incremental run. (Checked on the
-- stored table rather than the stg_sessions view: one pass over raw instead of two, and it also guards
-- the incremental appends.)
with raw_rows as (
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
    -- depends on stg_sessions through fct_sessions: {{ ref('stg_sessions') }}
    select count(*) as staged_rows from {{ ref('fct_sessions') }}
)

select raw_rows, distinct_rows, raw_rows - distinct_rows as duplicate_rows, staged_rows
from raw_rows cross join distinct_sessions cross join staged
where staged_rows <> distinct_rows
