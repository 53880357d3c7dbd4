{# Hours from timestamp `earlier` to timestamp `later`, as double precision (fractional). #}
{% macro hours_between(later, earlier) -%}
    (extract(epoch from ({{ later }} - {{ earlier }}))::double precision / 3600.0)
{%- endmacro %}
