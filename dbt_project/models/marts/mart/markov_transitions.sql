{{ config(tags=['attribution']) }}
{#
  The first-order Markov chain of all paths (conversion_paths): every path walks (start) -> its steps ->
  (conversion) for each registration it led to, or (null) for each user who never registered. Transition
  counts, and probabilities as counts over the from-state's outgoing count.
#}
with

conversion_paths as (
    select * from {{ ref('conversion_paths') }}
),

paths as (
    select
        steps,
        cardinality(steps) as n,
        converting,
        non_converting
    from conversion_paths
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
    where converting > 0
    union all
    select
        steps[n] as from_state,
        '(null)' as to_state,
        non_converting as transitions
    from paths
    where non_converting > 0
)

select
    from_state,
    to_state,
    sum(transitions)::bigint as transitions,
    sum(transitions)::double precision / sum(sum(transitions)) over (partition by from_state) as probability
from walks
group by from_state, to_state
