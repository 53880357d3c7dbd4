{#
  The query of a per-load audit model (audit_session_loads, audit_registration_loads): for each load above
  `audited` and up to `taken` (the last load the build takes in), its raw rows, its later copies and the
  rows the fact stores for it (as column `staged_column`).
  `later_copies`: a query of the load's raw rows that copy an earlier row (_load_id, _line_number), e.g.
  later_copies_from_fact().
#}
{% macro load_audit_summary(raw, fact, later_copies, staged_column, audited, taken) %}
with raw_counts as (
    select
        _load_id,
        min(_source_file) as _source_file,
        count(*) as raw_rows
    from {{ raw }}
    where
        _load_id > {{ audited }}
        and _load_id <= {{ taken }}
    group by _load_id
),

later_copies as (
{{ later_copies }}
),

copy_counts as (
    select
        _load_id,
        count(*) as later_copies,
        array_agg(_line_number order by _line_number) as later_copy_lines
    from later_copies
    group by _load_id
),

staged_counts as (
    select
        _load_id,
        count(*) as {{ staged_column }}
    from {{ fact }}
    where _load_id > {{ audited }}
    group by _load_id
)

select
    raw_counts._load_id,
    raw_counts._source_file,
    raw_counts.raw_rows,
    coalesce(copy_counts.later_copies, 0) as later_copies,
    coalesce(copy_counts.later_copy_lines, '{}') as later_copy_lines,
    coalesce(staged_counts.{{ staged_column }}, 0) as {{ staged_column }},
    '{{ invocation_id }}' as _audited_by
from raw_counts
left join copy_counts on raw_counts._load_id = copy_counts._load_id
left join staged_counts on raw_counts._load_id = staged_counts._load_id
{% endmacro %}
