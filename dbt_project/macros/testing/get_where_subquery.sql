{#
  dbt's hook for a test's `where` config, plus one placeholder: `__latest_run_rows__` stands for
  latest_run_rows_filter(), rendered when the test runs (a `where` in YAML is rendered at parse time, before
  any table exists). Otherwise as in dbt.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__latest_run_rows__' in where -%}
            {%- set where = where | replace('__latest_run_rows__', latest_run_rows_filter()) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
