{#
  The combination of `columns` is unique, guaranteed by a valid unique index on exactly these columns (the
  database rejects any duplicate on write). Checking that the index is there costs nothing, where a
  GROUP BY over a fact of ten million rows would cost a full scan and sort on every run.
  Fails with one row when no such index exists.
#}
{% test unique_index_enforces(model, columns) %}
with wanted as (
    select array[{% for column in columns %}'{{ column }}'{% if not loop.last %}, {% endif %}{% endfor %}]::text[] as columns
),

unique_indexes as (
    select array(
        select a.attname::text
        from unnest(i.indkey) with ordinality as k (attnum, position)
        join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum
        order by k.position
    ) as columns
    from pg_index as i
    where i.indrelid = '{{ model }}'::regclass
      and i.indisunique
      and i.indisvalid
      and i.indpred is null
)

select w.columns as missing_unique_index
from wanted as w
where not exists (select 1 from unique_indexes as u where u.columns = w.columns)
{% endtest %}
