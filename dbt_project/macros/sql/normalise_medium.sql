{# The medium as the marts know it: leading/trailing blanks (spaces, tabs, line breaks) removed, upper-case. #}
{% macro normalise_medium(column) -%}
    upper(btrim({{ column }}, E' \t\r\n'))
{%- endmacro %}
