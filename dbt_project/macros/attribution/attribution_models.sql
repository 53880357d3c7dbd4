{#
  The attribution models of attribution_credits, in the order of its credit columns (<model>_credit).
  Its SQL computes each of them; the reports and tests that read those columns loop over this list.
#}
{% macro attribution_models() -%}
    {{ return(['rule_based', 'first_touch', 'last_touch', 'linear', 'time_decay', 'position_based',
        'last_non_direct']) }}
{%- endmacro %}
