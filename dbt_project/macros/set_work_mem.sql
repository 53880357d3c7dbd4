{#
  Sorting and hashing millions of rows spills to disk with the server's default work_mem, and so does
  building an index over them with its maintenance_work_mem (fct_sessions' unique index: 3.5 s at 512MB,
  2.6 s at 2GB). Heavy models call this from a pre-hook: SET LOCAL applies to their own transaction only,
  which also creates their indexes. JIT compilation is switched off there too: these statements are few
  and large, and compiling their expressions costs seconds without paying back on two cores.
  Index builds stay in one process unless `index_workers` says otherwise: over mid-sized inputs, parallel
  builds took as long, or up to half a second less, for a third more CPU, while the build had other
  models to run. fct_sessions builds its two indexes over ten million rows while nothing else can run
  (everything waits for it): one worker more takes each from 3 s to 2.2 s.
  `index_setting`: the memory of the model's index builds, when it differs from `setting` (models that
  run with the small hash_work_mem still build their indexes in memory).
  `parallel`: the models on the build's critical path go parallel (the server runs every other statement
  serially: max_parallel_workers_per_gather = 0 there). Postgres' defaults price passing a row
  from a worker so high that a sort or aggregate of millions of rows never goes parallel, yet the select
  of fct_sessions' full build (a sort of 10M sessions) takes 6.3 s in parallel instead of 9.6 s. The
  leader process only gathers: it merges the workers' sorted output and writes the table, and taking its
  own share of the scan delayed that serial part (fct_sessions' full build 10 s -> 8 s). Models built
  beside the critical path (`parallel=false`) stay in one process: their workers' extra CPU would be
  taken from the model the build waits for (dim_user: 3.7 s either way, 5.3 CPU-seconds in parallel
  against 3.7).
#}
{% macro set_work_mem(setting='heavy_work_mem', parallel=true, index_setting=none, index_workers=0) -%}
    set local work_mem = '{{ var(setting) }}';
    set local maintenance_work_mem = '{{ var(index_setting or setting) }}';
    set local max_parallel_maintenance_workers = {{ index_workers }};
    set local jit = off;
    {%- if parallel %}
    set local max_parallel_workers_per_gather = {{ var('parallel_workers_per_model') }};
    set local parallel_setup_cost = 10;
    set local parallel_tuple_cost = 0.001;
    set local parallel_leader_participation = off
    {%- else %}
    set local max_parallel_workers_per_gather = 0
    {%- endif %}
{%- endmacro %}
