{#
  Registration status of every registered user and the channel that brought them: the rule-based channel
  of their first registration. Input of the SCD2 snapshot snap_user_registration_status (users without a
  registration are not tracked; their appearance in the snapshot is their registration). Built from the
  registrations alone (a few hundred thousand rows), not from dim_user (millions).
#}
with registrations as (
    select
        user_id,
        registration_time,
        channel,
        attributed_touch_medium,
        row_number() over (partition by user_id order by registration_time) as registration_number,
        count(*) over (partition by user_id) as registration_count
    from {{ ref('registration_attribution') }}
)

select
    user_id,
    true as is_registered,
    registration_count,
    registration_time as first_registration_at,
    channel as first_channel,
    attributed_touch_medium as first_channel_medium
from registrations
where registration_number = 1
