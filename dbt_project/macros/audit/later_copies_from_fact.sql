{#
  A query of the raw rows of the loads above `audited` and up to `taken` that copy an earlier row, found
  through the fact (which keeps each first occurrence): a raw row the fact does not store is a later copy
  only if the fact holds the same values from an earlier line. Columns _load_id, _line_number.
  `keys`: fact column -> expression over the raw row `raw_row`, the columns of the fact's index the probes use.
#}
{% macro later_copies_from_fact(raw, fact, audited, taken, keys) %}
    -- materialised: the anti-join runs first, whatever the statistics, and the probes see its few rows
    with not_stored as materialized (
        select
            {%- for column, expression in keys.items() %}
            {{ expression }} as {{ column }},
            {%- endfor %}
            raw_row._load_id,
            raw_row._line_number
        from {{ raw }} as raw_row
        where
            raw_row._load_id > {{ audited }}
            and raw_row._load_id <= {{ taken }}
            and not exists (
                select 1
                from {{ fact }} as stored
                where
                    stored._load_id > {{ audited }}
                    and raw_row._load_id = stored._load_id
                    and raw_row._line_number = stored._line_number
            )
    )

    select
        not_stored._load_id,
        not_stored._line_number
    from not_stored
    -- one probe of the fact's index per row (LIMIT keeps Postgres from hashing the whole fact instead)
    inner join lateral (
        select 1
        from {{ fact }} as earlier
        where
            {% for column in keys %}not_stored.{{ column }} = earlier.{{ column }}
            and {% endfor %}(earlier._load_id, earlier._line_number) < (not_stored._load_id, not_stored._line_number)
        limit 1
    ) as earlier_copy on true
{% endmacro %}
