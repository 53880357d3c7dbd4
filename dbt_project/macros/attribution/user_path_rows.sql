{#
  The conversion paths of users, as rows (user_id, registration_key, registration_date, steps, touches,
  days_to_convert); user_paths documents what they are. `users`: a query of the user_ids to compute (none:
  every user), whose registrations' touches are probed through the facts' indexes. `as_of`: [sessions load
  id, registrations load id], the paths as they were when the facts held no later load (none: as they are
  now); the facts only ever append, so the paths of any earlier build can be computed again.
#}
{% macro user_path_rows(registrations, sessions, registration_touches, users=none, as_of=none) -%}
    {%- if as_of and not users -%}
        {{ exceptions.raise_compiler_error('user_path_rows: as_of needs users (the full build reads every touch)') }}
    {%- endif -%}
    {%- set touch_order = 'time_started, medium, is_paid' -%}
    with

    -- read more than once: not materialised, so that each read is planned on the table itself
    fct_registrations as not materialized (
        select * from {{ registrations }}
        {%- if as_of %}
            where _load_id <= {{ as_of[1] }}
        {%- endif %}
    ),

    sessions as (
        select * from {{ sessions }}
        {%- if as_of %}
            where _load_id <= {{ as_of[0] }}
        {%- endif %}
    ),

    registrations_of_users as (
        select
            registration_key,
            user_id,
            registration_time,
            registration_date
        from fct_registrations
        {%- if users %}
            where user_id in ({{ users }})
        {%- endif %}
    ),

    window_touches as (
        select
            registration_touches.user_id,
            registration_touches.registration_time,
            registration_touches.registration_key,
            registration_touches.time_started,
            registration_touches.medium,
            registration_touches.is_paid
        {#- A full build reads every touch; a few users' registrations probe for theirs. #}
        {%- if users %}
            from registrations_of_users
            inner join {{ touches_probe('registrations_of_users', registration_touches) }} as registration_touches
                on true
        {%- else %}
            from {{ registration_touches }} as registration_touches
        {%- endif %}
        where
            registration_touches.is_in_lookback
            {%- if as_of %}
                and registration_touches.session_load_id <= {{ as_of[0] }}
            {%- endif %}
    ),

    converting_touches as (
        -- a touch starts a step unless the touch before it in the path has the same channel
        select
            *,
            (medium is distinct from lag(medium) over registration_touch_order) as starts_step
        from window_touches
        -- registrations by the key of fct_registrations' index (user_id, registration_time, ...): the touches
        -- come out of the join in user_id order, and the paths in that index's order, to be merged with it
        window registration_touch_order as (
            partition by user_id, registration_time, registration_key
            order by {{ touch_order }}
            -- lag needs no frame: ROWS spares the window the search for rows of equal order (peers)
            rows between unbounded preceding and current row
        )
    ),

    converting as (
        select
            user_id,
            registration_time,
            registration_key,
            array_agg(medium order by {{ touch_order }}) filter (where starts_step) as steps,
            count(*) as touches,
            min(time_started) as first_touch_at
        from converting_touches
        group by user_id, registration_time, registration_key
    ),

    non_converting_touches as (
        -- apart from the registrations' touches: read in the order of fct_sessions' unique index (user_id,
        -- time_started, medium, is_paid), the window and the aggregate below need no sort
        select
            user_id,
            time_started,
            medium,
            is_paid,
            (medium is distinct from lag(medium) over user_session_order) as starts_step
        from sessions
        where
            not exists (
                select from fct_registrations
                where sessions.user_id = fct_registrations.user_id
            )
            {%- if users %}
                and user_id in ({{ users }})
            {%- endif %}
        window user_session_order as (
            partition by user_id
            order by {{ touch_order }}
            rows between unbounded preceding and current row
        )
    ),

    non_converting as (
        select
            user_id,
            array_agg(medium order by {{ touch_order }}) filter (where starts_step) as steps,
            count(*) as touches
        from non_converting_touches
        group by user_id
    )

    select
        registrations_of_users.user_id,
        registrations_of_users.registration_key,
        registrations_of_users.registration_date,
        coalesce(converting.steps, '{}'::text[]) as steps,
        coalesce(converting.touches, 0)::integer as touches,
        {{ hours_between('registrations_of_users.registration_time', 'converting.first_touch_at') }} / 24.0
            as days_to_convert
    from registrations_of_users
    left join converting
        on
            registrations_of_users.user_id = converting.user_id
            and registrations_of_users.registration_time = converting.registration_time
            and registrations_of_users.registration_key = converting.registration_key
    union all
    select
        user_id,
        null::uuid as registration_key,
        null::date as registration_date,
        steps,
        touches::integer as touches,
        null::double precision as days_to_convert
    from non_converting
{%- endmacro %}
