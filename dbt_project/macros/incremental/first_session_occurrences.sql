{#
  The first occurrence of each distinct session among the delivered session rows (`delivered_sessions`,
  stg_sessions_delivered) that `where` selects, in
  key order: exact duplicates -- the same user, start time, medium and paid flag (medium trimmed and
  upper-cased) -- collapse into the row of the lowest load, then line. One sort and one pass (DISTINCT ON),
  no self-join. fct_sessions' full build takes this over every load, its incremental runs over the new
  loads.
#}
{% macro first_session_occurrences(delivered_sessions, where=none) -%}
select distinct on (user_id, time_started, medium, is_paid)
    user_id,
    time_started,
    session_date,
    is_paid,
    medium,
    _load_id,
    _source_file,
    _line_number,
    _loaded_at
from {{ delivered_sessions }}
{%- if where %}
where {{ where }}
{%- endif %}
order by user_id, time_started, medium, is_paid, _load_id, _line_number
{%- endmacro %}
