{#
  A query of the users with a session or a registration in a load after `after` ([sessions load id,
  registrations load id]), and up to `up_to` when given: the users whose paths those loads can change.
#}
{% macro users_with_new_loads(sessions, registrations, after, up_to=none) -%}
    select user_id from {{ sessions }}
    where _load_id > {{ after[0] }}{% if up_to %} and _load_id <= {{ up_to[0] }}{% endif %}
    union
    select user_id from {{ registrations }}
    where _load_id > {{ after[1] }}{% if up_to %} and _load_id <= {{ up_to[1] }}{% endif %}
{%- endmacro %}
