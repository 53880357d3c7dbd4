{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ tune_postgres_session(plans_off=['hashagg']) }}",
        indexes=[
            {'columns': ['user_id'], 'unique': True},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  Every user seen in either feed. Incremental runs recompute the users with new sessions or new
  registrations since the watermarks stored in the table.
  The session summary is a streaming aggregate over fct_sessions in its unique index's (user_id, ...)
  order, which is also its physical order: no hash table of millions of users. Postgres underestimates
  the number of users and would pick a hash aggregate, hence enable_hashagg off for this model.
  Incremental runs MERGE the recomputed users (a user never disappears): updating the changed users in place
  costs less than deleting and inserting them.
#}
-- the facts' critical tests read the audits: built only once they pass
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
-- no input: one level deeper than dim_date, so that dbt (which queues a level by name) runs this model's
-- tests after registration_attribution's, which hold back the build's critical path
-- depends_on: {{ ref('dim_date') }}
{% if is_incremental() %}
    {% set sessions_wm, registrations_wm = stored_watermarks(this) %}
{% endif %}

with

-- read twice in incremental runs: not materialised, so that each read is planned on the table itself
sessions as not materialized (
    select * from {{ ref('fct_sessions') }}
),

registrations as not materialized (
    select * from {{ ref('fct_registrations') }}
),

{% if is_incremental() %}
    changed_users as (
        select user_id from sessions
        where _load_id > {{ sessions_wm }}
        union
        select user_id from registrations
        where _load_id > {{ registrations_wm }}
    ),
{% endif %}

session_summary as (
    select
        user_id,
        min(time_started) as first_session_at,
        max(time_started) as last_session_at,
        count(*) as session_count
    from sessions
    {% if is_incremental() %}
        where user_id in (select changed_users.user_id from changed_users)
    {% endif %}
    group by user_id
),

registration_summary as (
    select
        user_id,
        min(registration_time) as first_registration_at,
        count(*) as registration_count
    from registrations
    {% if is_incremental() %}
        where user_id in (select changed_users.user_id from changed_users)
    {% endif %}
    group by user_id
)

select
    coalesce(session_summary.user_id, registration_summary.user_id) as user_id,
    session_summary.first_session_at,
    session_summary.last_session_at,
    coalesce(session_summary.session_count, 0) as session_count,
    registration_summary.first_registration_at,
    coalesce(registration_summary.registration_count, 0) as registration_count,
    registration_summary.user_id is not null as is_registered,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from session_summary
full outer join registration_summary on session_summary.user_id = registration_summary.user_id
