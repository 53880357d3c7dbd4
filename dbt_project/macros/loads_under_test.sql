{#
  Data tests over big tables check what the latest run changed, so that an incremental run tests the new
  data only, and a full build tests everything -- without any option from the caller.
  `loads_under_test(column, loads)`: a predicate on a load id column, true for the loads the latest run
  audited (`loads` is the feed's per-load audit model, audit_session_loads or audit_registration_loads:
  every load appears there once, stamped with the invocation that audited it; loads only grow, so "the
  latest run's loads" is "load ids >= the smallest one that invocation audited").
  `recomputed_under_test(prefix)`: a predicate on the watermark columns of the
  incremental attribution and dimension tables, true for rows computed from the current data (every row a
  run (re)computes is stamped with the largest load ids of the facts at that time).
#}
{% macro loads_under_test(column, loads) -%}
    {%- set first_load_query -%}
        select min(_load_id)
        from {{ loads }}
        where _audited_by = (select _audited_by from {{ loads }} order by _load_id desc limit 1)
    {%- endset -%}
    {#- Read when the test runs (its audit model is upstream, so already built) and written as a literal:
        Postgres then plans with the real bound and reads the latest loads through the _load_id indexes;
        behind a subquery it guessed a third of the table. When the latest run audited every load (a full
        build) the predicate is `true`: without a filter on the load, Postgres can read a fact in its index
        order alone (fct_sessions -> dim_user: a merge join of two index-only scans). Before the audit
        model exists (a `dbt compile` of a new warehouse) the subquery stays. -#}
    {%- set audited = load_relation(loads) if execute else none -%}
    {%- if audited is none -%}
        {{ column }} >= ({{ first_load_query }})
    {%- else -%}
        {%- set bounds = run_query(
            'select (' ~ first_load_query ~ '), min(_load_id) from ' ~ loads
        ).rows[0] -%}
        {%- if bounds[0] is none -%}
            {{ column }} >= null
        {%- elif bounds[0] == bounds[1] -%}
            true
        {%- else -%}
            {{ column }} >= {{ bounds[0] }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro recomputed_under_test(prefix='') -%}
    {#- the facts are upstream of every table with watermarks; no ref, as get_where_subquery calls this too -#}
    {%- set sessions = api.Relation.create(database=target.database, schema='dwh', identifier='fct_sessions') -%}
    {%- set registrations = api.Relation.create(database=target.database, schema='dwh', identifier='fct_registrations') -%}
    {#- literals when the test runs, as in loads_under_test -#}
    {%- if execute and load_relation(sessions) is not none and load_relation(registrations) is not none -%}
        ({{ prefix }}_sessions_load_id, {{ prefix }}_registrations_load_id) = (
            {{ max_value(sessions, '_load_id') }}, {{ max_value(registrations, '_load_id') }}
        )
    {%- else -%}
        ({{ prefix }}_sessions_load_id, {{ prefix }}_registrations_load_id) = (
            (select coalesce(max(_load_id), 0) from {{ sessions }}),
            (select coalesce(max(_load_id), 0) from {{ registrations }})
        )
    {%- endif -%}
{%- endmacro %}
