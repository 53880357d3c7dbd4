{#
  Sessions, typed and normalised, one row per distinct session: exact duplicates collapse into their first
  occurrence (lowest load, then line; macro first_session_occurrences). The output comes in key order, so
  that fct_sessions is stored clustered by user and time and its unique index builds from presorted input.
  Incremental appends to fct_sessions dedupe only the new loads (against the stored facts).
#}
{{ first_session_occurrences() }}
