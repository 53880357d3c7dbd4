{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}
{#
  One row per loaded conversions file (_load_id): raw rows, later copies (raw rows with an earlier copy in
  the same or an earlier file), their line numbers, and the registrations fct_registrations stores for the
  load. Same scheme as audit_session_loads: incremental runs audit the new loads, earlier copies in older
  loads are found in fct_registrations (index on user_id, registration_time).
#}
{% set audited = max_value(this, '_load_id') if is_incremental() else 0 %}

with

delivered as (
    select user_id, registration_time, _load_id, _source_file, _line_number
    from {{ source('raw', 'conversions') }}
    where _load_id > {{ audited }}
),

later_copies as (
    select d._load_id, d._line_number
    from delivered as d
    where exists (
        select 1
        from delivered as earlier
        where earlier.user_id = d.user_id
          and earlier.registration_time = d.registration_time
          and (earlier._load_id, earlier._line_number) < (d._load_id, d._line_number)
    )
    {% if is_incremental() %}
    -- (a union, not OR EXISTS: each half gets its own semi-join)
    union
    select d._load_id, d._line_number
    from delivered as d
    where exists (
        select 1
        from {{ ref('fct_registrations') }} as known
        where known.user_id = d.user_id
          and known.registration_time = d.registration_time
          and known._load_id <= {{ audited }}
    )
    {% endif %}
),

raw_counts as (
    select _load_id, min(_source_file) as _source_file, count(*) as raw_rows
    from delivered
    group by _load_id
),

{{ load_audit_summary(ref('fct_registrations'), 'staged_registrations', audited) }}
