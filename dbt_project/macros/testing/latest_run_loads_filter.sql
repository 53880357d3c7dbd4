{#
  A predicate on a load id `column`: true for the loads the latest run audited (`audit_model`:
  audit_session_loads or audit_registration_loads), i.e. every load after a full build, the new loads after
  an incremental run. Data tests over the big facts filter with it.
#}
{% macro latest_run_loads_filter(column, audit_model) -%}
    {#- every load is audited once, stamped with the invocation that audited it; loads only grow, so the
        latest run's loads are those from the smallest load that invocation audited -#}
    {%- set first_load_query -%}
        select min(_load_id)
        from {{ audit_model }}
        where _audited_by = (select _audited_by from {{ audit_model }} order by _load_id desc limit 1)
    {%- endset -%}
    {#- the bound is read when the test runs and written as a literal, so that Postgres plans with it;
        `true` after a full build, so that a fact can be read in index order without a filter; the subquery
        itself only before the audit model exists (a `dbt compile` of a new warehouse) -#}
    {%- set audited = load_relation(audit_model) if execute else none -%}
    {%- if audited is none -%}
        {{ column }} >= ({{ first_load_query }})
    {%- else -%}
        {%- set bounds = run_query(
            'select (' ~ first_load_query ~ '), min(_load_id) from ' ~ audit_model
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
