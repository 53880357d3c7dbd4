{#
  not_null for the big facts, limited to the rows of the loads the latest run audited (`loads`: the feed's
  audit model; every row after a full build). `columns` are all checked in one scan of the fact. The
  reference to the audit model also orders the test after it in a build.
#}
{% test not_null_in_latest_loads(model, columns, loads) %}
select {{ columns | join(', ') }}
from {{ model }}
where {{ latest_run_loads_filter('_load_id', loads) }}
  and ({% for column in columns %}{{ column }} is null{{ ' or ' if not loop.last }}{% endfor %})
{% endtest %}
