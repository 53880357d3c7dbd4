{{ config(tags=['attribution']) }}
{#
  The first-order Markov chain of all paths: the transitions someone makes (markov_transition_counts,
  which keeps the counts by difference), with their probabilities: the count over the from-state's
  outgoing count.
#}
with

transition_counts as (
    select * from {{ ref('markov_transition_counts') }}
)

select
    from_state,
    to_state,
    transitions,
    transitions::double precision / sum(transitions) over (partition by from_state) as probability
from transition_counts
where transitions > 0
