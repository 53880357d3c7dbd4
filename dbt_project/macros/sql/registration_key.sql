{#
  Surrogate key of a registration: an md5 of the natural key, stored as uuid (16 bytes, fast to compare and index).
  Timestamps enter as UTC epoch microseconds so the key does not depend on the session time zone.
#}
{% macro _epoch_us(ts) -%}
    (extract(epoch from {{ ts }}) * 1000000)::bigint
{%- endmacro %}

{% macro registration_key(user_id, registration_time) -%}
    md5({{ user_id }}::text || '|' || {{ _epoch_us(registration_time) }}::text)::uuid
{%- endmacro %}
