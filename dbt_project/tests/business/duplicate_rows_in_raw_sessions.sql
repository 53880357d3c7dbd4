{{ config(severity='warn', store_failures=true, tags=['business']) }}
-- Sessions delivered more than once (same values once the medium is normalised); staging keeps one.
select user_id, time_started, is_paid, {{ normalise_medium('medium') }} as medium, count(*) as copies
from {{ source('raw', 'sessions') }}
group by user_id, time_started, is_paid, {{ normalise_medium('medium') }}
having count(*) > 1
