{#- nested loops off: the squarings' row counts are estimated at 1 (their HAVING), and nested loops over
    thousands of rows each cost far more than hash joins -#}
{{
    config(
        tags=['attribution'],
        pre_hook="{{ tune_postgres_session(plans_off=['nestloop']) }}",
    )
}}
{#
  Markov removal effects, from the whole chain (markov_transitions) on every run.
  P: probability of absorption in (conversion) from (start). P-c: the same with every transition into
  channel c sent to (null). RE_c = 1 - P-c / P (0 when P is 0); registrations = N * RE_c / sum of RE, N the
  number of converting paths.
  Each scenario (none removed, and each channel removed) is the transition matrix with the absorbing
  states kept (probability 1 to themselves), raised to the power 2^markov_squarings by repeated squaring:
  its (start, conversion) entry is then the probability of converting within that many steps, which for
  an absorbing chain is the limit to well within double precision. Products below 1e-15 are dropped
  between squarings (they would only underflow).
#}
{% set squarings = 20 %}
with

-- read twice: not materialised, as the table itself
transitions as not materialized (
    select * from {{ ref('markov_transitions') }}
),

conversion_paths as (
    select * from {{ ref('conversion_paths') }}
),

channels as (
    select distinct from_state as channel
    from transitions
    where from_state != '(start)'
),

scenarios as (
    select '(none)' as removed
    union all
    select channel from channels
),

m0 as (
    select
        scenarios.removed,
        transitions.from_state,
        case
            when transitions.to_state = scenarios.removed then '(null)' else transitions.to_state
        end as to_state,
        sum(transitions.probability) as p
    from scenarios
    cross join transitions
    group by 1, 2, 3
    union all
    select
        scenarios.removed,
        absorbing.state as from_state,
        absorbing.state as to_state,
        1.0::double precision as p
    from scenarios
    cross join (values ('(conversion)'), ('(null)')) as absorbing (state)
),

{% for k in range(1, squarings + 1) %}
    m{{ k }} as (
        -- m(k) = m(k-1) x m(k-1), per scenario
        select
            first_step.removed,
            first_step.from_state,
            second_step.to_state,
            sum(first_step.p * second_step.p) as p
        from m{{ k - 1 }} as first_step
        inner join m{{ k - 1 }} as second_step
            on
                first_step.removed = second_step.removed
                and first_step.to_state = second_step.from_state
        {%- if loop.last %}
            where first_step.from_state = '(start)' and second_step.to_state = '(conversion)'
        {%- endif %}
        group by 1, 2, 3
        having sum(first_step.p * second_step.p) >= 1e-15
    ),
{% endfor %}

conversion as (
    select
        scenarios.removed,
        coalesce(absorbed.p, 0) as p
    from scenarios
    left join m{{ squarings }} as absorbed
        on
            scenarios.removed = absorbed.removed
            and absorbed.from_state = '(start)'
            and absorbed.to_state = '(conversion)'
),

effects as (
    select
        channels.channel,
        case when base.p > 0 then 1 - removed.p / base.p else 0 end as removal_effect,
        base.p as conversion_probability
    from channels
    inner join conversion as removed on channels.channel = removed.removed
    cross join (
        select conversion.p from conversion
        where conversion.removed = '(none)'
    ) as base
),

converting_paths as (
    select coalesce(sum(converting), 0) as n
    from conversion_paths
)

select
    effects.channel,
    effects.removal_effect,
    coalesce(
        converting_paths.n * effects.removal_effect / nullif(sum(effects.removal_effect) over (), 0), 0
    ) as registrations,
    effects.conversion_probability
from effects
cross join converting_paths
