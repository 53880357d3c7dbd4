{#- hash joins off: Postgres underestimates the sessions of users who never registered tenfold, hashes them
    and sorts them again, where a merge of the two tables' user_id indexes keeps them in order -#}
{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy', 'attribution'],
        pre_hook="{{ tune_postgres_session(plans_off=['hashjoin']) }}",
        indexes=[
            {'columns': ['user_id']},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  Every conversion path: one row per registration (a converting path: its touches in the multi-touch
  lookback window, in the multi-touch order) and one per user who never registered (a non-converting path:
  all the user's sessions, same order). Steps are the touches' channels (normalised mediums) with
  consecutive repeats collapsed into one (A A B A -> A B A). A registration without a touch in the window
  keeps its row with no steps: it has no path. The rows come from macro user_path_rows.
  Incremental by user: a user's paths depend on that user's sessions and registrations only, so a run
  recomputes every path of the users with a new session or registration (delete+insert on user_id), which
  also drops the non-converting path of a user who has registered since. Every such user has a row.
#}
-- the facts' critical tests read the audits: built only once they pass
-- depends_on: {{ ref('audit_session_loads') }}
-- depends_on: {{ ref('audit_registration_loads') }}
{% set fct_sessions = ref('fct_sessions') %}
{% set fct_registrations = ref('fct_registrations') %}
{% set users_in_scope = (
    users_with_new_loads(fct_sessions, fct_registrations, stored_watermarks(this)) if is_incremental() else none
) %}

with paths as (
    {{ user_path_rows(fct_registrations, fct_sessions, ref('int_registration_touches'), users=users_in_scope) }}
)

select
    user_id,
    registration_key,
    registration_date,
    steps,
    touches,
    days_to_convert,
    {{ load_watermarks(fct_sessions, fct_registrations) }}
from paths
