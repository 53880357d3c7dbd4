{{
    config(
        materialized='incremental',
        unique_key='registration_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['attribution'],
        indexes=[
            {'columns': ['registration_date']},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  Registrations per day (UTC) and path (user_paths; the empty path for registrations without a touch in the
  window), with the path's set of channels: what the daily report's Markov model and the monthly top paths
  add up, instead of grouping every registration's path on each run.
  Incremental runs recount the days of the registrations whose touches may have changed (macro
  registrations_in_scope: new registrations, and those of users with a new session before them); a
  registration's path changes with nothing else. Watermarks are user_paths' own, so a day recounted while
  user_paths lags behind the facts is recounted again once it has caught up.
#}
{% set user_paths = ref('user_paths') %}
{% set fct_registrations = ref('fct_registrations') %}
{% set fct_sessions = ref('fct_sessions') %}
{% set paths_wm = stored_watermarks(user_paths) %}
{% if is_incremental() %}
    {% set changed_days_query %}
        select distinct registration_date
        from ({{ registrations_in_scope(fct_registrations, fct_sessions) }}) as registrations
    {% endset %}
    {% set changed_day_list = date_literals(changed_days_query) %}
{% endif %}

with

paths as (
    select * from {{ user_paths }}
)

select
    registration_date,
    steps,
    {{ path_channel_set('steps') }} as channels,
    count(*) as registrations,
    {{ paths_wm[0] }}::bigint as _sessions_load_id,
    {{ paths_wm[1] }}::bigint as _registrations_load_id
from paths
where
    registration_key is not null
    {%- if is_incremental() %}
        and registration_date in ({{ changed_day_list }})
    {%- endif %}
group by registration_date, steps
