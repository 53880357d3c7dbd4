{#
  A lateral subquery of one registration's touches, probed through the facts' indexes: an incremental run
  joins its few thousand registrations in scope to it. OFFSET 0 keeps Postgres from flattening the probe
  into a join with every touch, a plan it picks on some statistics and that reads every session.
#}
{% macro touches_probe(registrations, touches) -%}
    lateral (
        select * from {{ touches }}
        where {{ touches }}.registration_key = {{ registrations }}.registration_key
        offset 0
    )
{%- endmacro %}
