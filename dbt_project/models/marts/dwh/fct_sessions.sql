{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ set_work_mem() }}",
        indexes=[
            {'columns': ['user_id', 'time_started', 'medium', 'is_paid'], 'unique': True},
            {'columns': ['_load_id']},
            {'columns': ['session_date']},
        ],
    )
}}
{#
  One row per distinct session; its grain (user_id, time_started, medium, is_paid) is the key, enforced by
  a unique index that also serves the attribution's lookups of a user's sessions by time. No surrogate key:
  hashing ten million keys costs more than it buys. Incremental runs append the sessions whose first occurrence is in a load
  newer than any already here; a later exact copy of a known session is not "first" and so never comes
  back (stg_sessions drops it).
#}
select
    user_id,
    time_started,
    (time_started at time zone 'UTC')::date as session_date,
    is_paid,
    medium,
    _load_id,
    _source_file,
    _line_number,
    _loaded_at
from {{ ref('stg_sessions') }}
{% if is_incremental() %}
where _load_id > {{ max_value(this, '_load_id') }}
{% endif %}
