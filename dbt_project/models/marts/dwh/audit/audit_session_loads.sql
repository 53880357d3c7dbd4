{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ set_work_mem() }}",
    )
}}
{#
  One row per loaded session file (_load_id): raw rows, later copies (raw rows with an earlier copy -- the
  same values once the medium is normalised -- in the same or an earlier file), the line numbers of those
  copies, and the sessions fct_sessions stores for the load. The compact input of the reconciliation and
  duplicate tests, so that they read a few rows instead of ten million.
  Full build: every load, copies found among the raw rows themselves. Incremental: the loads above the
  ones already audited; an earlier copy is searched among the new loads' raw rows and, for older loads, in
  fct_sessions (probes of its unique index), which holds the first copy of every session of the loads
  audited before (reconciled with raw when they were audited).
#}
{% set audited = max_value(this, '_load_id') if is_incremental() else 0 %}

{% set delivered -%}
    (
        select user_id, time_started, is_paid, {{ normalise_medium('medium') }} as medium, _load_id, _line_number
        from {{ source('raw', 'sessions') }}
        where _load_id > {{ audited }}
    )
{%- endset %}

with

later_copies as (
    -- the raw rows are read twice rather than through one shared CTE: a CTE read twice is materialised
    -- and scanned by one process, the raw partitions are scanned in parallel
    select d._load_id, d._line_number
    from {{ delivered }} as d
    where exists (
        select 1
        from {{ delivered }} as earlier
        where earlier.user_id = d.user_id
          and earlier.time_started = d.time_started
          and (earlier.is_paid, earlier.medium) is not distinct from (d.is_paid, d.medium)
          and (earlier._load_id, earlier._line_number) < (d._load_id, d._line_number)
    )
    {% if is_incremental() %}
    -- (a union, not OR EXISTS: each half gets its own plan); one probe of the unique index per new row
    -- (LIMIT keeps Postgres from hashing all stored sessions instead)
    union
    select d._load_id, d._line_number
    from {{ delivered }} as d
    join lateral (
        select 1
        from {{ ref('fct_sessions') }} as known
        where known.user_id = d.user_id
          and known.time_started = d.time_started
          and known.medium = d.medium
          and known.is_paid = d.is_paid
          and known._load_id <= {{ audited }}
        limit 1
    ) as stored on true
    {% endif %}
),

raw_counts as (
    select _load_id, min(_source_file) as _source_file, count(*) as raw_rows
    from {{ source('raw', 'sessions') }}
    where _load_id > {{ audited }}
    group by _load_id
),

{{ load_audit_summary(ref('fct_sessions'), 'staged_sessions', audited) }}
