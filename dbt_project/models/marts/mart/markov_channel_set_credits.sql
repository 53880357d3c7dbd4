{{ config(tags=['attribution']) }}
{#
  The Markov credits of a registration depend on its path's distinct channels alone: one row per set of
  channels that registrations' paths have, and channel. Each channel c of the set gets RE_c / the sum of RE
  over the set (an equal split when that sum is 0); the set of a registration without a touch in the window
  is {var('unattributed_channel')}, which gets 1.0. A few thousand rows, which markov_credits and the daily
  report join to, instead of the credits computed per registration or per day.
#}
with

path_registrations as (
    select * from {{ ref('path_registrations_daily') }}
),

removal_effects as (
    select * from {{ ref('markov_channel_attribution') }}
),

channel_sets as (
    select distinct channels
    from path_registrations
    union
    select {{ path_channel_set("'{}'::text[]") }} as channels
),

set_channels as (
    select
        channel_sets.channels,
        set_channel.channel,
        coalesce(removal_effects.removal_effect, 0) as removal_effect,
        sum(coalesce(removal_effects.removal_effect, 0)) over (partition by channel_sets.channels) as set_effect,
        cardinality(channel_sets.channels) as set_size
    from channel_sets
    cross join lateral unnest(channel_sets.channels) as set_channel (channel)
    left join removal_effects on set_channel.channel = removal_effects.channel
)

select
    channels,
    channel,
    case
        when set_effect > 0 then removal_effect / set_effect
        else 1.0 / set_size
    end as markov_credit
from set_channels
