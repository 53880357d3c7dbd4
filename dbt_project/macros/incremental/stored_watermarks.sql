{#
  The watermarks an incremental attribution or dimension table (or the user-status snapshot) has seen:
  [largest _sessions_load_id, largest _registrations_load_id], [0, 0] when it is empty. Every run stamps its
  rows with the facts' current largest load ids and both only grow, so the largest pair is the last row of
  the table's index on the two columns.
#}
{% macro stored_watermarks(relation) -%}
    {%- if not execute -%}
        {{ return([0, 0]) }}
    {%- endif -%}
    {%- set result = run_query(
        'select _sessions_load_id, _registrations_load_id from ' ~ relation
        ~ ' order by _sessions_load_id desc, _registrations_load_id desc limit 1'
    ) -%}
    {{ return([result.rows[0][0], result.rows[0][1]] if result.rows else [0, 0]) }}
{%- endmacro %}
