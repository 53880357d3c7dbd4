{#
  not_null and relationships for the big facts, limited to the rows of the loads the latest run audited
  (`loads`: the feed's audit model; every row after a full build). The reference to the audit model also
  orders these tests after it in a build.
#}
{#- `columns`: all checked in one scan of the fact (one test per column read ten million rows each) -#}
{% test not_null_in_latest_loads(model, columns, loads) %}
select {{ columns | join(', ') }}
from {{ model }}
where {{ latest_run_loads_filter('_load_id', loads) }}
  and ({% for column in columns %}{{ column }} is null{{ ' or ' if not loop.last }}{% endfor %})
{% endtest %}

{% test relationships_in_latest_loads(model, column_name, to, field, loads) %}
select child.{{ column_name }} as from_field
from {{ model }} as child
where {{ latest_run_loads_filter('child._load_id', loads) }}
  and child.{{ column_name }} is not null
  and not exists (select 1 from {{ to }} as parent where parent.{{ field }} = child.{{ column_name }})
{% endtest %}
