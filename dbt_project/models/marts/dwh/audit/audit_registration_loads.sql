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
  load. A raw row fct_registrations does not keep as a first occurrence is a later copy only if it holds
  the same registration from an earlier line (index on user_id, registration_time), as in
  audit_session_loads' incremental runs; the conversions feed is small enough to audit it so in full
  builds too.
#}
{#- relations, not CTEs: the probes below must read the fact's indexes -#}
{% set raw_conversions = source('raw', 'conversions') %}
{% set fct_registrations = ref('fct_registrations') %}
{% set audited = max_value(this, '_load_id') if is_incremental() else 0 %}
{% set taken = last_load_taken(ref('audit_load_batches'), 'registrations_load_id') %}

{% set later_copies = later_copies_from_fact(
    raw_conversions,
    fct_registrations,
    audited,
    taken,
    {'user_id': 'raw_row.user_id', 'registration_time': 'raw_row.registration_time'},
) %}

{{ load_audit_summary(raw_conversions, fct_registrations, later_copies, 'staged_registrations', audited, taken) }}
