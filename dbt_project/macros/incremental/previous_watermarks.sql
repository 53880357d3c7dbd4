{#
  The watermarks a table kept by difference had before the run that wrote its rows stamped `watermarks`
  (columns _previous_sessions_load_id, _previous_registrations_load_id of one of them): [none, none] when
  that run was a full build or no row carries those watermarks.
#}
{% macro previous_watermarks(relation, watermarks) -%}
    {%- if not execute -%}
        {{ return([none, none]) }}
    {%- endif -%}
    {%- set result = run_query(
        'select _previous_sessions_load_id, _previous_registrations_load_id from ' ~ relation
        ~ ' where _sessions_load_id = ' ~ watermarks[0] ~ ' and _registrations_load_id = ' ~ watermarks[1]
        ~ ' limit 1'
    ) -%}
    {{ return([result.rows[0][0], result.rows[0][1]] if result.rows else [none, none]) }}
{%- endmacro %}
