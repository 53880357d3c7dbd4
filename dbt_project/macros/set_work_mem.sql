{#
  Sorting and hashing millions of rows spills to disk with the server's default work_mem. Heavy models
  call this from a pre-hook: SET LOCAL applies to their own transaction only. JIT compilation is switched
  off there too: these statements are few and large, and compiling their expressions costs seconds
  without paying back on two cores.
#}
{% macro set_work_mem(setting='heavy_work_mem') -%}
    set local work_mem = '{{ var(setting) }}';
    set local jit = off
{%- endmacro %}
