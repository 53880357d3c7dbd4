{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ set_work_mem('hash_work_mem', index_setting='heavy_work_mem') }}",
    )
}}
{#
  One row per loaded session file (_load_id): raw rows, later copies (raw rows with an earlier copy -- the
  same values once the medium is normalised -- in the same or an earlier file), the line numbers of those
  copies, and the sessions fct_sessions stores for the load. The compact input of the reconciliation and
  duplicate tests, so that they read a few rows instead of ten million.
  Full build: the copies are found among the raw rows themselves (one parallel hash join of the raw rows
  with themselves). Incremental runs audit the loads above the ones already audited, from fct_sessions,
  which keeps the load and line of each session's first occurrence: a new raw row it does not keep is a
  later copy only if it holds the same session from an earlier line (one probe of its unique index). Either
  way the reconciliation raw rows = stored + later copies fails on a session lost, doubled, or kept from
  the wrong line. Loads up to the last one the build takes in (audit_load_batches), as for fct_sessions.
#}
{% set audited = max_value(this, '_load_id') if is_incremental() else 0 %}
{% set taken = last_load_taken(ref('audit_load_batches'), 'sessions_load_id') %}

with

{% if is_incremental() %}
{{ later_copies_from_fact(
    source('raw', 'sessions'),
    ref('fct_sessions'),
    audited,
    taken,
    {
        'user_id': 'r.user_id',
        'time_started': 'r.time_started',
        'medium': normalise_medium('r.medium'),
        'is_paid': 'r.is_paid',
    },
) }}
{% else %}
{% set delivered -%}
    (
        select user_id, time_started, is_paid, {{ normalise_medium('medium') }} as medium, _load_id, _line_number
        from {{ source('raw', 'sessions') }}
        where _load_id <= {{ taken }}
    )
{%- endset %}
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
),
{% endif %}

{{ load_audit_summary(source('raw', 'sessions'), ref('fct_sessions'), 'staged_sessions', audited, taken) }}
