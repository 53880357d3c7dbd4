{#
  Sorting and hashing millions of rows spills to disk with the server's default work_mem, and so does
  building an index over them with its maintenance_work_mem (fct_sessions' unique index: 3.5 s at 512MB,
  2.6 s at 2GB). Heavy models call this from a pre-hook: SET LOCAL applies to their own transaction only,
  which also creates their indexes. JIT compilation is switched
  off there too: these statements are few and large, and compiling their expressions costs seconds
  without paying back on two cores. Parallel workers are made cheap to plan with: Postgres' defaults price
  passing a row from a worker so high that a sort or aggregate of millions of rows never goes parallel,
  yet measured here a parallel sort of 10M sessions takes 8 s instead of 13 s. The leader process only
  gathers: it merges the workers' sorted output and writes the table, and taking its own share of the scan
  delayed that serial part (fct_sessions' full build 10 s -> 8 s, dim_user's 4.6 s -> 4.0 s).
#}
{% macro set_work_mem(setting='heavy_work_mem') -%}
    set local work_mem = '{{ var(setting) }}';
    set local maintenance_work_mem = '{{ var(setting) }}';
    set local jit = off;
    set local parallel_setup_cost = 10;
    set local parallel_tuple_cost = 0.001;
    set local parallel_leader_participation = off
{%- endmacro %}
