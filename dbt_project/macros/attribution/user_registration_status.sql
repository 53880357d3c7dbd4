{#
  Registration status of every registered user and the channel that brought them: the rule-based channel
  of their first registration, from the rule-based attribution `attribution` (registration_attribution).
  Users without a registration are not tracked; their appearance is their registration. Built from the
  registrations alone (about a million rows), not from dim_user (millions).
  The watermarks are those of the user's most recently (re)attributed registration: what the snapshot
  uses to check only the users whose status may have changed.
  A macro, so that the snapshot selects from the attribution itself rather than from the view
  int_user_registration_status: dbt queues a node when its last parent is done, and behind a view the
  snapshot came last in every build (see snap_user_registration_status).
#}
{% macro user_registration_status(attribution) -%}
with registrations as (
    select
        user_id,
        registration_time,
        channel,
        attributed_touch_medium,
        row_number() over user_registrations as registration_number,
        count(*) over user_registrations as registration_count,
        max(_sessions_load_id) over user_registrations as _sessions_load_id,
        max(_registrations_load_id) over user_registrations as _registrations_load_id
    from {{ attribution }}
    -- one window (one pass): row_number follows the order, the aggregates see the whole user through the
    -- frame
    window user_registrations as (
        partition by user_id
        order by registration_time
        rows between unbounded preceding and unbounded following
    )
)

select
    user_id,
    true as is_registered,
    registration_count,
    registration_time as first_registration_at,
    channel as first_channel,
    attributed_touch_medium as first_channel_medium,
    _sessions_load_id,
    _registrations_load_id
from registrations
where registration_number = 1
{%- endmacro %}
