-- Mediums in the data that the channel_mapping seed does not know (channel group "Unmapped").
with channels as (
    select * from {{ ref('dim_channel') }}
)

select
    channel as medium,
    channel_name
from channels
where is_medium and not is_known_medium
