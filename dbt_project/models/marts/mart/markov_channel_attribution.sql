{#- nested loops off: the squarings' row counts are estimated at 1 (their HAVING), and nested loops over
    thousands of rows each then cost seconds where hash joins take milliseconds -#}
{{ config(tags=['attribution'], pre_hook="set local enable_nestloop = off") }}
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

channels as (
    select distinct from_state as channel
    from {{ ref('markov_transitions') }}
    where from_state <> '(start)'
),

scenarios as (
    select '(none)' as removed
    union all
    select channel from channels
),

m0 as (
    select
        s.removed,
        t.from_state,
        case when t.to_state = s.removed then '(null)' else t.to_state end as to_state,
        sum(t.probability) as p
    from scenarios as s
    cross join {{ ref('markov_transitions') }} as t
    group by 1, 2, 3
    union all
    select s.removed, a.state, a.state, 1.0::double precision
    from scenarios as s
    cross join (values ('(conversion)'), ('(null)')) as a (state)
),

{% for k in range(1, squarings + 1) %}
m{{ k }} as (
    select a.removed, a.from_state, b.to_state, sum(a.p * b.p) as p
    from m{{ k - 1 }} as a
    join m{{ k - 1 }} as b on b.removed = a.removed and b.from_state = a.to_state
    {%- if loop.last %}
    where a.from_state = '(start)' and b.to_state = '(conversion)'
    {%- endif %}
    group by 1, 2, 3
    having sum(a.p * b.p) >= 1e-15
),
{% endfor %}

conversion as (
    select s.removed, coalesce(m.p, 0) as p
    from scenarios as s
    left join m{{ squarings }} as m
        on m.removed = s.removed and m.from_state = '(start)' and m.to_state = '(conversion)'
),

effects as (
    select
        c.channel,
        case when base.p > 0 then 1 - removed.p / base.p else 0 end as removal_effect,
        base.p as conversion_probability
    from channels as c
    join conversion as removed on removed.removed = c.channel
    cross join (select p from conversion where removed = '(none)') as base
),

converting_paths as (
    select coalesce(sum(converting), 0) as n
    from {{ ref('conversion_paths') }}
)

select
    e.channel,
    e.removal_effect,
    coalesce(n.n * e.removal_effect / nullif(sum(e.removal_effect) over (), 0), 0) as registrations,
    e.conversion_probability
from effects as e
cross join converting_paths as n
