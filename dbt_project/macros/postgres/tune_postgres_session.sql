{#
  Postgres settings for one heavy model, as SET LOCAL statements for its pre-hook: they hold for the model's
  own transaction only (its select and its index builds). Values come from the vars of the "Postgres
  tuning" block in dbt_project.yml; docs/performance.md has the measurements behind them.
#}
{% macro tune_postgres_session(
    work_mem='heavy_work_mem', parallel=false, index_work_mem=none, index_workers=0, plans_off=()
) -%}
    -- sorts and hashes of millions of rows in memory rather than in temp files
    set local work_mem = '{{ var(work_mem) }}';
    set local maintenance_work_mem = '{{ var(index_work_mem or work_mem) }}';
    -- index builds serial unless the model asks for workers (parallel builds cost CPU the build needs elsewhere)
    set local max_parallel_maintenance_workers = {{ index_workers }};
    -- few, large statements: compiling their expressions does not pay back
    set local jit = off;
    {%- for plan in plans_off %}
    -- a plan the model's estimates would wrongly favour (the model says which and why)
    set local enable_{{ plan }} = off;
    {%- endfor %}
    {%- if parallel %}
    -- models that ask for it: Postgres' default costs never choose a parallel plan for their statements
    set local max_parallel_workers_per_gather = {{ var('parallel_workers_per_model') }};
    set local parallel_setup_cost = 10;
    set local parallel_tuple_cost = 0.001;
    -- the leader only gathers: it merges the workers' output and writes the table
    set local parallel_leader_participation = off
    {%- else %}
    -- serial by default: the build keeps both cores busy with its other models
    set local max_parallel_workers_per_gather = 0
    {%- endif %}
{%- endmacro %}
