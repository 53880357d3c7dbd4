{{
    config(
        materialized='incremental',
        unique_key=['from_state', 'to_state'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['attribution'],
        indexes=[{'columns': ['from_state', 'to_state'], 'unique': True}],
    )
}}
{#
  The transition counts of the first-order Markov chain over all paths (conversion_path_totals): every path
  walks (start) -> its steps -> (conversion) for each registration it led to, or (null) for each user who
  never registered. A transition nobody makes any more keeps its row with a zero count.
  Incremental by difference: when the totals' last run started from this table's watermarks, the walks of
  the rows it rewrote, with the changes it made to their counts, are added to the stored counts. Otherwise
  (a full build of the totals, or a run of theirs this table missed) every path is walked again.
#}
{% set path_totals = ref('conversion_path_totals') %}
{% set totals_wm = stored_watermarks(path_totals) %}
{% set walk = 'every path' %}
{% if is_incremental() %}
    {% set counts_wm = stored_watermarks(this) %}
    {% if counts_wm == totals_wm %}
        {% set walk = 'nothing' %}
    {% elif counts_wm == previous_watermarks(path_totals, totals_wm) %}
        {% set walk = 'the changes' %}
    {% endif %}
{% endif %}

with

path_counts as (
    {%- if walk == 'the changes' %}
        -- the rows the totals' last run rewrote
        select
            steps,
            converting_change as converting,
            non_converting_change as non_converting
        from {{ path_totals }}
        where _sessions_load_id = {{ totals_wm[0] }} and _registrations_load_id = {{ totals_wm[1] }}
    {%- else %}
        select
            steps,
            converting,
            non_converting
        from {{ path_totals }}
        {%- if walk == 'nothing' %}
            where false
        {%- endif %}
    {%- endif %}
),

paths as (
    select
        steps,
        cardinality(steps) as n,
        converting,
        non_converting
    from path_counts
    where cardinality(steps) > 0
),

walks as (
    select
        '(start)' as from_state,
        steps[1] as to_state,
        converting + non_converting as transitions
    from paths
    union all
    select
        paths.steps[step] as from_state,
        paths.steps[step + 1] as to_state,
        paths.converting + paths.non_converting as transitions
    from paths
    cross join lateral generate_series(1, paths.n - 1) as step
    union all
    select
        steps[n] as from_state,
        '(conversion)' as to_state,
        converting as transitions
    from paths
    union all
    select
        steps[n] as from_state,
        '(null)' as to_state,
        non_converting as transitions
    from paths
),

walked as (
    select
        from_state,
        to_state,
        sum(transitions) as transitions
    from walks
    group by from_state, to_state
),

stored_counts as (
    {%- if is_incremental() %}
        select
            from_state,
            to_state,
            {{ '0' if walk == 'every path' else 'transitions' }} as transitions
        from {{ this }}
    {%- else %}
        select
            null::text as from_state,
            null::text as to_state,
            0::bigint as transitions
        where false
    {%- endif %}
)

-- every transition ever made, so that all rows carry the watermarks (the table has a few hundred)
select
    coalesce(walked.from_state, stored_counts.from_state) as from_state,
    coalesce(walked.to_state, stored_counts.to_state) as to_state,
    (coalesce(stored_counts.transitions, 0) + coalesce(walked.transitions, 0))::bigint as transitions,
    {{ totals_wm[0] }}::bigint as _sessions_load_id,
    {{ totals_wm[1] }}::bigint as _registrations_load_id
from walked
full outer join stored_counts
    on
        walked.from_state = stored_counts.from_state
        and walked.to_state = stored_counts.to_state
where
    coalesce(stored_counts.transitions, 0) + coalesce(walked.transitions, 0) != 0
    or stored_counts.from_state is not null
