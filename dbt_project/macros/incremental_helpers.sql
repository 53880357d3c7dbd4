{#
  Incremental bookkeeping. Raw rows are append-only and every load has a larger _load_id than the loads
  before it, so "what is new" is "the rows of loads above a watermark". Each incremental model stores the
  watermarks it has seen: the largest load ids of fct_sessions and fct_registrations at the time a row
  was computed (_sessions_load_id, _registrations_load_id); the large tables index both, which finds the
  rows of the latest run (what their tests read) and the watermark itself. Watermarks are read at compile
  time so that Postgres plans with real numbers (and prunes raw partitions before running).
#}
{% macro max_value(relation, column, default=0) -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set result = run_query('select coalesce(max(' ~ column ~ '), ' ~ default ~ ') from ' ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}

{#
  The watermarks an incremental attribution or dimension table (or the user-status snapshot) has seen,
  [largest _sessions_load_id, largest _registrations_load_id]. Watermarks only grow, in both columns at once (every run stamps its rows
  with the facts' current largest load ids), so the largest pair is the last row of an index on both.
#}
{% macro stored_watermarks(relation) -%}
    {%- if not execute -%}
        {{ return([0, 0]) }}
    {%- endif -%}
    {%- set result = run_query(
        'select _sessions_load_id, _registrations_load_id from ' ~ relation
        ~ ' order by _sessions_load_id desc, _registrations_load_id desc limit 1'
    ) -%}
    {{ return([result.rows[0][0], result.rows[0][1]] if result.rows else [0, 0]) }}
{%- endmacro %}

{#
  The registrations whose attribution this run must (re)compute, as a query returning
  registration_key, user_id, registration_time, registration_date.
  Full build: all of them. Incremental: registrations that are new since the model's watermark, plus the
  registrations of users with new sessions that start at or before the registration (a touch counts only
  if time_started <= registration_time; an earlier-starting late session can change the rule-based
  winner, the multi-touch credits, or both). Nothing else can change, so incremental == full refresh.
#}
{% macro registrations_in_scope(registrations, sessions) -%}
    {%- if is_incremental() -%}
        {%- set sessions_wm, registrations_wm = stored_watermarks(this) -%}
        with new_sessions as (
            select user_id, min(time_started) as first_new_session_at
            from {{ sessions }}
            where _load_id > {{ sessions_wm }}
            group by user_id
        )
        select r.registration_key, r.user_id, r.registration_time, r.registration_date
        from {{ registrations }} as r
        where r._load_id > {{ registrations_wm }}
        union
        select r.registration_key, r.user_id, r.registration_time, r.registration_date
        from new_sessions as s
        join {{ registrations }} as r
            on r.user_id = s.user_id
           and r.registration_time >= s.first_new_session_at
    {%- else -%}
        select registration_key, user_id, registration_time, registration_date
        from {{ registrations }}
    {%- endif -%}
{%- endmacro %}

{# The watermark columns every incremental attribution row carries. #}
{% macro load_watermarks(sessions, registrations) -%}
    {{ max_value(sessions, '_load_id') }}::bigint as _sessions_load_id,
    {{ max_value(registrations, '_load_id') }}::bigint as _registrations_load_id
{%- endmacro %}

{#
  Absolute durations: '1 day' intervals follow the session time zone's DST rules on timestamptz,
  hours never do.
#}
{% macro hours(expression) -%}
    (({{ expression }}) * interval '1 hour')
{%- endmacro %}

{% macro hours_between(later, earlier) -%}
    (extract(epoch from ({{ later }} - {{ earlier }}))::double precision / 3600.0)
{%- endmacro %}

{#
  The last load of a feed the current build takes in (column sessions_load_id or registrations_load_id of
  audit_load_batches), as a literal: the facts and their audits read no load above it.
#}
{% macro last_load_taken(batches, column) -%}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set result = run_query('select ' ~ column ~ ' from ' ~ batches ~ ' order by taken_at desc limit 1') -%}
    {{ return(result.rows[0][0] if result.rows else 0) }}
{%- endmacro %}
