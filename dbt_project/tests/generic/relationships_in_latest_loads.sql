{#
  relationships for the big facts, limited to the rows of the loads the latest run audited (`loads`: the
  feed's audit model; every row after a full build).
#}
{% test relationships_in_latest_loads(model, column_name, to, field, loads) %}
select child.{{ column_name }} as from_field
from {{ model }} as child
where {{ latest_run_loads_filter('child._load_id', loads) }}
  and child.{{ column_name }} is not null
  and not exists (select 1 from {{ to }} as parent where parent.{{ field }} = child.{{ column_name }})
{% endtest %}
