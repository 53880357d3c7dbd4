{#
  Surrogate keys: an md5 of the natural key, stored as uuid (16 bytes, fast to compare and index).
  Timestamps enter as UTC epoch microseconds so the key does not depend on the session time zone.
#}
{% macro _epoch_us(ts) -%}
    (extract(epoch from {{ ts }}) * 1000000)::bigint
{%- endmacro %}

{% macro session_key(user_id, time_started, is_paid, medium) -%}
    md5(
        {{ user_id }}::text || '|' || {{ _epoch_us(time_started) }}::text || '|'
        || {{ is_paid }}::text || '|' || {{ medium }}
    )::uuid
{%- endmacro %}

{% macro registration_key(user_id, registration_time) -%}
    md5({{ user_id }}::text || '|' || {{ _epoch_us(registration_time) }}::text)::uuid
{%- endmacro %}
