{#
  The watermark columns every incremental attribution or dimension row carries: the facts' largest load ids
  when the row was computed.
#}
{% macro load_watermarks(sessions, registrations) -%}
    {{ max_value(sessions, '_load_id') }}::bigint as _sessions_load_id,
    {{ max_value(registrations, '_load_id') }}::bigint as _registrations_load_id
{%- endmacro %}
