{#
  Registration status of every registered user and the channel that brought them: the rule-based channel
  of their first registration. Input of the SCD2 snapshot snap_user_registration_status (users without a
  registration are not tracked; their appearance in the snapshot is their registration).
#}
select
    u.user_id,
    u.is_registered,
    u.registration_count,
    u.first_registration_at,
    a.channel as first_channel,
    a.attributed_touch_medium as first_channel_medium
from {{ ref('dim_user') }} as u
join {{ ref('registration_attribution') }} as a
    on a.user_id = u.user_id
   and a.registration_time = u.first_registration_at
where u.is_registered
