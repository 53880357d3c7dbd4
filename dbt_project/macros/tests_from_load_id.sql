{#
  Data tests over big tables look at the rows of loads >= var('tests_from_load_id') only (0: all rows).
  `loads_under_test('_load_id')` -> a predicate on a load id column; `recomputed_under_test()` -> a predicate
  on the watermark columns of the incremental attribution tables (rows computed after those loads).
#}
{% macro loads_under_test(column) -%}
    {{ column }} >= {{ var('tests_from_load_id') }}
{%- endmacro %}

{% macro recomputed_under_test(prefix='') -%}
    greatest({{ prefix }}_sessions_load_id, {{ prefix }}_registrations_load_id) >= {{ var('tests_from_load_id') }}
{%- endmacro %}
