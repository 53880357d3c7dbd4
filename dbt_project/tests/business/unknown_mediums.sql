{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Mediums in the data that the channel_mapping seed does not know (channel group "Unmapped").
select channel as medium, channel_name
from {{ ref('dim_channel') }}
where is_medium and not is_known_medium
