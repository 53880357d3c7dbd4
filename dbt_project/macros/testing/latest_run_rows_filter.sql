{#
  A predicate on the watermark columns (`prefix`_sessions_load_id, `prefix`_registrations_load_id) of the
  incremental attribution and dimension tables: true for the rows the latest run (re)computed, which it
  stamped with the facts' largest load ids.
#}
{% macro latest_run_rows_filter(prefix='') -%}
    {%- if not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {#- the facts from dbt's graph, not ref(): get_where_subquery calls this for generic tests, whose
        dependencies dbt fixes at parse time without the facts (they are upstream of every tested table) -#}
    {%- set facts = {} -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.name in ['fct_sessions', 'fct_registrations'] -%}
        {%- do facts.update({
            node.name: api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)
        }) -%}
    {%- endfor -%}
    {%- set sessions, registrations = facts['fct_sessions'], facts['fct_registrations'] -%}
    {#- literals once the facts exist, as in latest_run_loads_filter -#}
    {%- if load_relation(sessions) is not none and load_relation(registrations) is not none -%}
        ({{ prefix }}_sessions_load_id, {{ prefix }}_registrations_load_id) = (
            {{ max_value(sessions, '_load_id') }}, {{ max_value(registrations, '_load_id') }}
        )
    {%- else -%}
        ({{ prefix }}_sessions_load_id, {{ prefix }}_registrations_load_id) = (
            (select coalesce(max(_load_id), 0) from {{ sessions }}),
            (select coalesce(max(_load_id), 0) from {{ registrations }})
        )
    {%- endif -%}
{%- endmacro %}
