{#
  The dates a query returns, read when the model compiles, as a SQL list of date literals (`null::date` when
  there are none) for an `in (...)`: a few changed days as literals filter the scans they are compared with,
  where Postgres plans a subquery as a join of everything before filtering.
#}
{% macro date_literals(query) -%}
    {%- set days = run_query(query).columns[0].values() if execute else [] -%}
    {%- for day in days %}'{{ day }}'::date{{ ", " if not loop.last }}{% endfor -%}
    {{- "null::date" if not days -}}
{%- endmacro %}
