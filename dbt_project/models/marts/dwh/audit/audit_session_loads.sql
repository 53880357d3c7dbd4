{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ tune_postgres_session('hash_work_mem', parallel=true, index_work_mem='heavy_work_mem') }}",
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
{#- relations, not CTEs: the probes below must read the fact's indexes -#}
{% set raw_sessions = source('raw', 'sessions') %}
{% set fct_sessions = ref('fct_sessions') %}
{% set audited = max_value(this, '_load_id') if is_incremental() else 0 %}
{% set taken = last_load_taken(ref('audit_load_batches'), 'sessions_load_id') %}

{% if is_incremental() %}
    {% set later_copies = later_copies_from_fact(
        raw_sessions,
        fct_sessions,
        audited,
        taken,
        {
            'user_id': 'raw_row.user_id',
            'time_started': 'raw_row.time_started',
            'medium': normalise_medium('raw_row.medium'),
            'is_paid': 'raw_row.is_paid',
        },
    ) %}
{% else %}
    {% set delivered_sessions %}
        (
            select
                user_id,
                time_started,
                is_paid,
                {{ normalise_medium('medium') }} as medium,
                _load_id,
                _line_number
            from {{ raw_sessions }}
            where _load_id <= {{ taken }}
        )
    {% endset %}
    {#- the raw rows are read twice rather than through one shared CTE: a CTE read twice is materialised and
        scanned by one process, the raw partitions are scanned in parallel -#}
    {% set later_copies %}
    select
        delivered._load_id,
        delivered._line_number
    from {{ delivered_sessions }} as delivered
    where exists (
        select 1
        from {{ delivered_sessions }} as earlier
        where
            delivered.user_id = earlier.user_id
            and delivered.time_started = earlier.time_started
            and (delivered.is_paid, delivered.medium) is not distinct from (earlier.is_paid, earlier.medium)
            and (earlier._load_id, earlier._line_number) < (delivered._load_id, delivered._line_number)
    )
    {% endset %}
{% endif %}

{{ load_audit_summary(raw_sessions, fct_sessions, later_copies, 'staged_sessions', audited, taken) }}
