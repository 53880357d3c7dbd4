{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[
            {'columns': ['registration_key'], 'unique': True},
            {'columns': ['user_id', 'registration_time', 'registration_key', 'registration_date']},
            {'columns': ['_load_id']},
        ],
    )
}}
{#
  One row per registration (distinct user_id, registration_time); appends new loads, up to the last one the
  build takes in (audit_load_batches), with the same lineage as fct_sessions. Its unique index on
  registration_key rejects a second row of a registration on write, cheaper than a `unique` test that
  groups every registration in every run. The index on user_id and registration_time carries the key and
  date too: the joins of registrations to their users' sessions read the registrations from that index
  alone (index-only scans, once int_registration_touches has vacuumed the table).
#}
with staged_registrations as (
    select * from {{ ref('stg_conversions') }}
)

select
    registration_key,
    user_id,
    registration_time,
    (registration_time at time zone 'UTC')::date as registration_date,
    _load_id,
    _line_number
from staged_registrations
where
    _load_id <= {{ last_load_taken(ref('audit_load_batches'), 'registrations_load_id') }}
    {% if is_incremental() %}
        and _load_id > {{ max_value(this, '_load_id') }}
    {% endif %}
