{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        full_refresh=false,
    )
}}
{#
  One row per build that finds newly committed loads: the last load of each feed it takes in. The facts and
  their audits read no load above these, so a load that commits while a build runs is taken whole by the
  next build rather than by the facts' step and not by the audit's (or the other way round). Kept through
  full refreshes: it is the history of which build took which loads.
#}
with committed as (
    select
        coalesce(max(load_id) filter (where feed = 'sessions'), 0) as sessions_load_id,
        coalesce(max(load_id) filter (where feed = 'conversions'), 0) as registrations_load_id
    from {{ source('raw', 'load_ledger') }}
)

select
    sessions_load_id,
    registrations_load_id,
    '{{ invocation_id }}' as _taken_by,
    now() as taken_at
from committed
{% if is_incremental() %}
    where
        not exists (
            select 1
            from (
                select * from {{ this }}
                order by taken_at desc
                limit 1
            ) as latest
            where
                committed.sessions_load_id = latest.sessions_load_id
                and committed.registrations_load_id = latest.registrations_load_id
        )
{% endif %}
