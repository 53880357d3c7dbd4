{#
  dbt-postgres' create_table_as, except for a table with an enforced contract and no constraints: dbt checks
  the query's columns and types against the contract as usual, then creates the table with CREATE TABLE AS
  rather than CREATE TABLE followed by INSERT ... SELECT, which Postgres never plans in parallel.
#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced and not temporary
        and not config.get('unlogged', default=false)
        and not config.get('sql_header', none)
        and not (model.constraints or []) and not model.columns.values() | selectattr('constraints') | list -%}
        {{ get_assert_columns_equivalent(sql) }}
        create table {{ relation }} as (
            {{ get_select_subquery(sql) }}
        );
    {%- else -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- endif -%}
{%- endmacro %}
