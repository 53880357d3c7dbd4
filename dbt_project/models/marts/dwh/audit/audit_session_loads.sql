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
  fct_sessions keeps the load and line of each session's first occurrence. A raw row it does not keep is
  counted as a later copy only if fct_sessions holds the same session from an earlier line (one probe of
  its unique index), so the reconciliation raw rows = stored + later copies fails on any session lost,
  doubled, or kept from the wrong line. Incremental runs audit the loads above the ones already audited.
#}
{% set audited = max_value(this, '_load_id') if is_incremental() else 0 %}

with

not_stored as (
    select r.user_id, r.time_started, r.is_paid, {{ normalise_medium('r.medium') }} as medium, r._load_id, r._line_number
    from {{ source('raw', 'sessions') }} as r
    where r._load_id > {{ audited }}
      and not exists (
          select 1
          from {{ ref('fct_sessions') }} as stored
          where stored._load_id > {{ audited }}
            and stored._load_id = r._load_id
            and stored._line_number = r._line_number
      )
),

later_copies as (
    select d._load_id, d._line_number
    from not_stored as d
    -- (LIMIT keeps Postgres from hashing all stored sessions instead of probing the index)
    join lateral (
        select 1
        from {{ ref('fct_sessions') }} as known
        where known.user_id = d.user_id
          and known.time_started = d.time_started
          and known.medium = d.medium
          and known.is_paid = d.is_paid
          and (known._load_id, known._line_number) < (d._load_id, d._line_number)
        limit 1
    ) as earlier on true
),

raw_counts as (
    select _load_id, min(_source_file) as _source_file, count(*) as raw_rows
    from {{ source('raw', 'sessions') }}
    where _load_id > {{ audited }}
    group by _load_id
),

{{ load_audit_summary(ref('fct_sessions'), 'staged_sessions', audited) }}
