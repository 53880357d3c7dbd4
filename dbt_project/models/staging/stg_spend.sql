{#
  Every delivered spend row, typed, its medium normalised as the sessions' are and its currency the
  reporting currency where the file sent none. Rows of one day and medium are kept apart (spend arrives
  per campaign); the cost marts add them up.
#}
with raw_spend as (
    select * from {{ source('raw', 'spend') }}
)

select
    spend_date,
    {{ normalise_medium('medium') }} as medium,
    spend,
    coalesce(currency, '{{ var("reporting_currency") }}') as currency,
    _load_id,
    _source_file,
    _line_number,
    _loaded_at
from raw_spend
