{# Each attribution model's credits summed over the rows grouped, as a column named after the model. #}
{% macro credit_sums() -%}
    {%- for model in attribution_models() %}
    sum({{ model }}_credit) as {{ model }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
