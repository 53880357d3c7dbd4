{{ config(tags=['attribution'], pre_hook="{{ tune_postgres_session(parallel=false) }}") }}
{#
  One row per distinct path (user_paths): how many registrations it led to and how many users who never
  registered took it. Filter by length (path_length) or channel ('EMAIL' = any(channels)).
#}
with paths as (
    select * from {{ ref('user_paths') }}
)

select
    array_to_string(steps, ' > ') as path,
    steps,
    cardinality(steps) as path_length,
    array(
        select distinct unnest(steps) as step
        order by step
    ) as channels,
    count(registration_key) as converting,
    count(*) - count(registration_key) as non_converting,
    count(registration_key)::double precision / count(*) as conversion_rate,
    avg(touches) filter (where registration_key is not null)::double precision as mean_touches,
    avg(days_to_convert) as mean_days_to_convert
from paths
where cardinality(steps) > 0
group by steps
