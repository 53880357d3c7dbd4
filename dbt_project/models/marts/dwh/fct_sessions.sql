{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ set_work_mem('sort_work_mem') }}",
        indexes=[
            {'columns': ['user_id', 'time_started', 'medium', 'is_paid'], 'unique': True},
            {'columns': ['_load_id']},
        ],
    )
}}
{#
  One row per distinct session; its grain (user_id, time_started, medium, is_paid) is the key, enforced by
  a unique index that also serves the attribution's lookups of a user's sessions by time. No surrogate key:
  hashing ten million keys costs more than it buys. Lineage is the load and line of the first occurrence;
  the load's file and time are in audit_session_loads and raw.load_ledger (per row they made the table a
  third wider, and every scan of it slower).
  Full build: stg_sessions (one sort of the raw rows), stored in key order. Incremental runs append the
  sessions whose first occurrence is in a load newer than any already here: the new loads' rows, deduped
  among themselves and minus the sessions already stored (probes of the unique index); a later exact copy
  of a known session never comes back. The index on _load_id finds the newest load (the watermark of every
  incremental model) and the rows of new loads. No index on
  session_date: building it took longer than the scans it saved (dim_date's bounds, channel_performance).
#}
-- depends_on: {{ ref('stg_sessions_delivered') }}
{% if is_incremental() %}
select distinct on (d.user_id, d.time_started, d.medium, d.is_paid)
    d.user_id,
    d.time_started,
    (d.time_started at time zone 'UTC')::date as session_date,
    d.is_paid,
    d.medium,
    d._load_id,
    d._line_number
from {{ ref('stg_sessions_delivered') }} as d
-- one probe of the unique index per new row (LIMIT keeps Postgres from hashing all stored sessions instead)
left join lateral (
    select true as is_known
    from {{ this }} as known
    where known.user_id = d.user_id
      and known.time_started = d.time_started
      and known.medium = d.medium
      and known.is_paid = d.is_paid
    limit 1
) as stored on true
where d._load_id > {{ max_value(this, '_load_id') }}
  and stored.is_known is null
order by d.user_id, d.time_started, d.medium, d.is_paid, d._load_id, d._line_number
{% else %}
select
    user_id,
    time_started,
    (time_started at time zone 'UTC')::date as session_date,
    is_paid,
    medium,
    _load_id,
    _line_number
from {{ ref('stg_sessions') }}
{% endif %}
