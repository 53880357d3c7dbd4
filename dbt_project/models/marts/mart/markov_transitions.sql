{{ config(tags=['attribution']) }}
{#
  The first-order Markov chain of all paths (conversion_paths): every path walks (start) -> its steps ->
  (conversion) for each registration it led to, or (null) for each user who never registered. Transition
  counts, and probabilities as counts over the from-state's outgoing count.
#}
with paths as (
    select steps, cardinality(steps) as n, converting, non_converting
    from {{ ref('conversion_paths') }}
),

walks as (
    select '(start)' as from_state, steps[1] as to_state, converting + non_converting as transitions
    from paths
    union all
    select p.steps[i], p.steps[i + 1], p.converting + p.non_converting
    from paths as p
    cross join lateral generate_series(1, p.n - 1) as i
    union all
    select steps[n], '(conversion)', converting
    from paths
    where converting > 0
    union all
    select steps[n], '(null)', non_converting
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
