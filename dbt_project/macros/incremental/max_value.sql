{#
  The largest value of `column` in `relation` (`default` when it is empty), read when the model compiles, so
  that Postgres plans with the number as a literal (and prunes raw partitions before running).
#}
{% macro max_value(relation, column, default=0) -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set result = run_query('select coalesce(max(' ~ column ~ '), ' ~ default ~ ') from ' ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}
