{{
    config(
        materialized='incremental',
        unique_key='path',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['attribution'],
        pre_hook="{{ tune_postgres_session() }}",
        indexes=[
            {'columns': ['path'], 'unique': True},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  The running totals behind conversion_paths, one row per path ever taken: registrations and users who
  never registered with it, and the sums its means are made of (exact: integers and numeric, so that
  adding and subtracting gives what a full build gives).
  Incremental by difference: the users whose paths user_paths has recomputed since this table's watermarks
  add their paths as they are now (user_paths) and subtract them as they were then (macro user_path_rows as
  of the watermarks); only the paths they touch are rewritten, instead of grouping every user's path again.
  A path nobody takes any more keeps its row with zero counts (conversion_paths leaves it out), so the
  watermarks are never lost with it. Watermarks are user_paths' own: loads user_paths has not seen yet wait.
  Each rewritten row also keeps the change this run made to its counts and the watermarks the run started
  from (null on a full build): markov_transition_counts adds those changes to the chain's counts.
#}
{% set user_paths = ref('user_paths') %}
{% set fct_sessions = ref('fct_sessions') %}
{% set fct_registrations = ref('fct_registrations') %}
{% set registration_touches = ref('int_registration_touches') %}
{% set paths_wm = stored_watermarks(user_paths) %}
{% if is_incremental() %}
    {% set totals_wm = stored_watermarks(this) %}
    {% set users_in_scope = users_with_new_loads(fct_sessions, fct_registrations, totals_wm, up_to=paths_wm) %}
{% endif %}

with

user_paths as (
    select * from {{ user_paths }}
),

{% if is_incremental() %}
    previous_paths as (
        {{ user_path_rows(
            fct_registrations, fct_sessions, registration_touches, users=users_in_scope, as_of=totals_wm
        ) }}
    ),
{% endif %}

path_changes as (
    select
        steps,
        registration_key is not null as is_converting,
        touches,
        days_to_convert,
        1 as sign
    from user_paths
    {%- if is_incremental() %}
        where user_id in ({{ users_in_scope }})
        union all
        select
            steps,
            registration_key is not null as is_converting,
            touches,
            days_to_convert,
            -1 as sign
        from previous_paths
    {%- endif %}
),

path_sums as (
    select
        array_to_string(steps, ' > ') as path,
        steps,
        sum(sign) filter (where is_converting) as converting,
        sum(sign) filter (where not is_converting) as non_converting,
        sum(sign * touches) filter (where is_converting) as converting_touches,
        sum(sign * days_to_convert::numeric) filter (where is_converting) as converting_days
    from path_changes
    where cardinality(steps) > 0
    group by steps
),

stored_totals as (
    {%- if is_incremental() %}
        select * from {{ this }}
    {%- else %}
        -- a full build adds every path to nothing
        select
            null::text as path,
            0::bigint as converting,
            0::bigint as non_converting,
            0::bigint as converting_touches,
            0::numeric as converting_days
        where false
    {%- endif %}
)

select
    path_sums.path,
    path_sums.steps,
    cardinality(path_sums.steps) as path_length,
    {{ path_channel_set('path_sums.steps') }} as channels,
    coalesce(stored_totals.converting, 0) + coalesce(path_sums.converting, 0) as converting,
    coalesce(stored_totals.non_converting, 0) + coalesce(path_sums.non_converting, 0) as non_converting,
    coalesce(stored_totals.converting_touches, 0) + coalesce(path_sums.converting_touches, 0) as converting_touches,
    coalesce(stored_totals.converting_days, 0) + coalesce(path_sums.converting_days, 0) as converting_days,
    coalesce(path_sums.converting, 0) as converting_change,
    coalesce(path_sums.non_converting, 0) as non_converting_change,
    {{ paths_wm[0] }}::bigint as _sessions_load_id,
    {{ paths_wm[1] }}::bigint as _registrations_load_id,
    {{ totals_wm[0] if is_incremental() else 'null' }}::bigint as _previous_sessions_load_id,
    {{ totals_wm[1] if is_incremental() else 'null' }}::bigint as _previous_registrations_load_id
from path_sums
left join stored_totals on path_sums.path = stored_totals.path
