{#
  The last load of a feed the current build takes in (column sessions_load_id or registrations_load_id of
  audit_load_batches), as a literal: the facts and their audits read no load above it.
#}
{% macro last_load_taken(batches, column) -%}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set result = run_query('select ' ~ column ~ ' from ' ~ batches ~ ' order by taken_at desc limit 1') -%}
    {{ return(result.rows[0][0] if result.rows else 0) }}
{%- endmacro %}
