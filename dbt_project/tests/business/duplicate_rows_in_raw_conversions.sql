{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Registrations delivered more than once; staging keeps one.
select user_id, registration_time, count(*) as copies
from {{ source('raw', 'conversions') }}
group by user_id, registration_time
having count(*) > 1
