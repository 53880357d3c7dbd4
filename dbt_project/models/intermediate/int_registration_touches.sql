{#
  The touches of every registration: that user's (deduplicated) sessions that started at or before the
  registration (macro registration_touches). Sessions are joined only for registering users, through the
  index on fct_sessions (user_id, time_started). A view: attribution_credits filters it to the
  registrations it (re)computes, and Postgres pushes that filter into the join.
#}
{{ registration_touches(ref('fct_registrations'), ref('fct_sessions')) }}
