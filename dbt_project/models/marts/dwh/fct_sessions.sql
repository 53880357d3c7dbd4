{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        tags=['heavy'],
        pre_hook="{{ tune_postgres_session('sort_work_mem', parallel=true, index_workers=1) }}",
        post_hook=[after_commit("vacuum {{ this }}")],
        indexes=[
            {'columns': ['user_id', 'time_started', 'medium', 'is_paid'], 'unique': True},
            {'columns': ['_load_id']},
        ],
    )
}}
{#
  One row per distinct session; its grain (user_id, time_started, medium, is_paid) is the key, enforced by
  a unique index that also serves the attribution's lookups of a user's sessions by time. No surrogate key:
  hashing ten million keys costs more than it buys. Lineage is the load and line of the first occurrence;
  the load's file and time are in audit_session_loads and raw.load_ledger (per row they would widen the
  table and slow every scan of it).
  Only loads up to the last one the build takes in (audit_load_batches), as for the session audit.
  Full build: the first occurrence of every distinct session among those delivered rows (one sort), stored
  in key order. Incremental runs append the sessions whose first occurrence is in a load newer than any
  already here: the new loads' rows, deduped among themselves and minus the sessions already stored
  (probes of the unique index); a later exact copy of a known session never comes back. The index on
  _load_id finds the newest load (the watermark of every incremental model) and the rows of new loads. No
  index on session_date: building it costs more than the scans it would save (dim_date's bounds,
  channel_performance).
  No staging view of the distinct sessions in between: a build would then start this model only after that
  view, behind the tests queued meanwhile.
  VACUUM after each commit marks the pages all-visible (and sets the rows' hint bits once): the readers of
  user_id, time_started, medium and is_paid -- the attribution's touches, dim_user -- then read the unique
  index alone (index-only scans), and no autovacuum pass over the new table competes with the build later.
#}
{#- relations, not CTEs: the probes read the tables' indexes -#}
{% set stg_sessions_delivered = ref('stg_sessions_delivered') %}
{% set taken = '_load_id <= ' ~ last_load_taken(ref('audit_load_batches'), 'sessions_load_id') %}
{% if is_incremental() %}
    -- new_sessions: the new loads' distinct sessions in key order, so that the probes below walk the unique
    -- index in order
    with new_sessions as (
        {{ first_session_occurrences(
            stg_sessions_delivered, '_load_id > ' ~ max_value(this, '_load_id') ~ ' and ' ~ taken
        ) }}
    )

    select
        new_sessions.user_id,
        new_sessions.time_started,
        new_sessions.session_date,
        new_sessions.is_paid,
        new_sessions.medium,
        new_sessions._load_id,
        new_sessions._line_number
    from new_sessions
    -- one probe of the unique index per new session (LIMIT keeps Postgres from hashing all stored sessions)
    left join lateral (
        select true as is_known
        from {{ this }} as known
        where
            new_sessions.user_id = known.user_id
            and new_sessions.time_started = known.time_started
            and new_sessions.medium = known.medium
            and new_sessions.is_paid = known.is_paid
        -- an existence probe: any row will do
        limit 1  -- noqa: AM09
    ) as stored_session on true
    where stored_session.is_known is null
{% else %}
select
    user_id,
    time_started,
    session_date,
    is_paid,
    medium,
    _load_id,
    _line_number
from ({{ first_session_occurrences(stg_sessions_delivered, taken) }}) as first_occurrences
{% endif %}
