{#
  The attribution models of attribution_credits, in the order of its credit columns (<model>_credit).
  Its SQL computes each of them; the reports and tests that read those columns loop over this list.
#}
{% macro attribution_models() -%}
    {{ return(['rule_based', 'first_touch', 'last_touch', 'linear', 'time_decay', 'position_based',
        'last_non_direct']) }}
{%- endmacro %}

{# Each model's credits summed over the rows grouped, as a column named after the model. #}
{% macro credit_sums() -%}
    {%- for model in attribution_models() %}
    sum({{ model }}_credit) as {{ model }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
