{#
  The registrations whose attribution this run must (re)compute, as a query returning registration_key,
  user_id, registration_time, registration_date.
  Full build: all of them. Incremental: the registrations new since the model's watermarks, plus those of
  users with new sessions that start at or before the registration (a touch counts only if
  time_started <= registration_time, and a late session can change the rule-based winner, the multi-touch
  credits, or both). Nothing else can change, so an incremental run gives what a full refresh gives.
#}
{% macro registrations_in_scope(registrations, sessions) -%}
    {%- if is_incremental() -%}
        {%- set sessions_wm, registrations_wm = stored_watermarks(this) -%}
        with new_sessions as (
            select
                user_id,
                min(time_started) as first_new_session_at
            from {{ sessions }}
            where _load_id > {{ sessions_wm }}
            group by user_id
        )

        select
            registration.registration_key,
            registration.user_id,
            registration.registration_time,
            registration.registration_date
        from {{ registrations }} as registration
        where registration._load_id > {{ registrations_wm }}
        union
        select
            registration.registration_key,
            registration.user_id,
            registration.registration_time,
            registration.registration_date
        from new_sessions
        inner join {{ registrations }} as registration
            on
                new_sessions.user_id = registration.user_id
                and new_sessions.first_new_session_at <= registration.registration_time
    {%- else -%}
        select
            registration_key,
            user_id,
            registration_time,
            registration_date
        from {{ registrations }}
    {%- endif -%}
{%- endmacro %}
