{#
  The combination of `columns` is unique in the model (a composite key). Failing rows: the duplicated
  combinations with their number of rows.
#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
