{#
  Sorting and hashing millions of rows spills to disk with the server's default work_mem. Heavy models
  call this from a pre-hook: SET LOCAL applies to their own transaction only.
#}
{% macro set_work_mem() -%}
    set local work_mem = '{{ var("heavy_work_mem") }}'
{%- endmacro %}
