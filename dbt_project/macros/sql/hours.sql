{#
  `expression` hours as an interval. Absolute: a '1 day' interval follows the session time zone's DST rules
  on timestamptz, hours never do.
#}
{% macro hours(expression) -%}
    (({{ expression }}) * interval '1 hour')
{%- endmacro %}
