{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[
            {'columns': ['registration_key']},
            {'columns': ['user_id', 'registration_time']},
            {'columns': ['_load_id']},
        ],
    )
}}
{#
  One row per registration (distinct user_id, registration_time); appends new loads and keeps the same
  lineage as fct_sessions.
#}
select
    registration_key,
    user_id,
    registration_time,
    (registration_time at time zone 'UTC')::date as registration_date,
    _load_id,
    _line_number
from {{ ref('stg_conversions') }}
{% if is_incremental() %}
where _load_id > {{ max_value(this, '_load_id') }}
{% endif %}
