{#
  Schemas are exactly the names configured per folder (staging, intermediate, dwh, mart, snapshots,
  elementary): no target-schema prefix, so every environment has the same layout and the Airflow DAG,
  the report and the README can name tables directly. Models without a configured schema use the
  target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
