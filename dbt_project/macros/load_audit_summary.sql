{#
  The end of a per-load audit model (audit_session_loads, audit_registration_loads): given a CTE
  `later_copies` (_load_id, _line_number of each exact copy of an earlier row), count per load above
  `audited` and up to `taken` (the last load the build takes in) the raw rows, the copies and the rows the
  fact table stores.
#}
{% macro load_audit_summary(raw, fact, staged_column, audited, taken) %}
raw_counts as (
    select _load_id, min(_source_file) as _source_file, count(*) as raw_rows
    from {{ raw }}
    where _load_id > {{ audited }}
      and _load_id <= {{ taken }}
    group by _load_id
),

copy_counts as (
    select _load_id, count(*) as later_copies, array_agg(_line_number order by _line_number) as later_copy_lines
    from later_copies
    group by _load_id
),

staged as (
    select _load_id, count(*) as {{ staged_column }}
    from {{ fact }}
    where _load_id > {{ audited }}
    group by _load_id
)

select
    r._load_id,
    r._source_file,
    r.raw_rows,
    coalesce(c.later_copies, 0) as later_copies,
    coalesce(c.later_copy_lines, '{}') as later_copy_lines,
    coalesce(s.{{ staged_column }}, 0) as {{ staged_column }},
    '{{ invocation_id }}' as _audited_by
from raw_counts as r
left join copy_counts as c on c._load_id = r._load_id
left join staged as s on s._load_id = r._load_id
{% endmacro %}

{#
  CTEs `not_stored` and `later_copies` of the loads above `audited` and up to `taken`, from the fact: the raw rows the fact
  does not keep as a first occurrence (its _load_id, _line_number), each counted as a later copy only if
  the fact holds the same values from an earlier line. `keys`: fact column -> expression over the raw row
  `r`, the columns of the fact's index that the probes use.
#}
{% macro later_copies_from_fact(raw, fact, audited, taken, keys) %}
not_stored as (
    select
        {%- for column, expression in keys.items() %}
        {{ expression }} as {{ column }},
        {%- endfor %}
        r._load_id,
        r._line_number
    from {{ raw }} as r
    where r._load_id > {{ audited }}
      and r._load_id <= {{ taken }}
      and not exists (
          select 1
          from {{ fact }} as stored
          where stored._load_id > {{ audited }}
            and stored._load_id = r._load_id
            and stored._line_number = r._line_number
      )
),

later_copies as (
    select d._load_id, d._line_number
    from not_stored as d
    -- one probe of the fact's index per row (LIMIT keeps Postgres from hashing the whole fact instead)
    join lateral (
        select 1
        from {{ fact }} as known
        where {% for column in keys %}known.{{ column }} = d.{{ column }}
          and {% endfor %}(known._load_id, known._line_number) < (d._load_id, d._line_number)
        limit 1
    ) as earlier on true
),
{% endmacro %}
