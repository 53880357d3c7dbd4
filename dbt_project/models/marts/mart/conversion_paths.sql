{{ config(materialized='view', tags=['attribution']) }}
{#
  One row per distinct path (user_paths): how many registrations it led to and how many users who never
  registered took it. Filter by length (path_length) or channel ('EMAIL' = any(channels)). A view of the
  paths someone takes in conversion_path_totals, which keeps the counts up to date by difference.
#}
with

totals as (
    select * from {{ ref('conversion_path_totals') }}
)

select
    path,
    steps,
    path_length,
    channels,
    converting,
    non_converting,
    converting::double precision / (converting + non_converting) as conversion_rate,
    (converting_touches::numeric / nullif(converting, 0))::double precision as mean_touches,
    (converting_days / nullif(converting, 0))::double precision as mean_days_to_convert
from totals
where converting + non_converting > 0
