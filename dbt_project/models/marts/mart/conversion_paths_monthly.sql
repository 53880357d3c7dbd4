{{ config(tags=['attribution']) }}
{#
  The var('top_paths_per_month') converting paths with the most registrations in each calendar month of
  registration (UTC); ties in the order of the path's text.
#}
with

path_registrations as (
    select * from {{ ref('path_registrations_daily') }}
),

monthly as (
    select
        date_trunc('month', registration_date)::date as month_start,
        array_to_string(steps, ' > ') as path,
        cardinality(steps) as path_length,
        sum(registrations)::bigint as registrations
    from path_registrations
    where cardinality(steps) > 0
    group by month_start, steps
),

ranked as (
    select
        *,
        row_number() over (partition by month_start order by registrations desc, path asc) as rank,
        registrations::double precision / sum(registrations) over (partition by month_start)
            as share_of_month
    from monthly
)

select
    extract(year from month_start)::int as year,
    extract(month from month_start)::int as month,
    rank::int as rank,
    path,
    path_length,
    registrations,
    share_of_month
from ranked
where rank <= {{ var('top_paths_per_month') }}
