{#
  dbt's hook for a test's `where` config, extended with one placeholder: `__recomputed_by_latest_run__`
  becomes recomputed_under_test(), written when the test runs with the watermarks as literals (a `where` in
  YAML is rendered when the project is parsed, before any table exists). Everything else is as in dbt.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__recomputed_by_latest_run__' in where -%}
            {%- set where = where | replace('__recomputed_by_latest_run__', recomputed_under_test()) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
