{#
  Registrations, one row per distinct (user_id, registration_time): exact duplicate rows collapse into
  their first occurrence (lowest load, then line), as for the sessions. In the "no earlier copy" form, so
  that fct_registrations can read only the new loads.
#}
with source as (

    select
        user_id,
        registration_time,
        _load_id,
        _source_file,
        _line_number,
        _loaded_at
    from {{ source('raw', 'conversions') }}

)

select
    {{ registration_key('c.user_id', 'c.registration_time') }} as registration_key,
    c.user_id,
    c.registration_time,
    c._load_id,
    c._source_file,
    c._line_number,
    c._loaded_at
from source as c
where not exists (
    select 1
    from {{ source('raw', 'conversions') }} as earlier
    where earlier.user_id = c.user_id
      and earlier.registration_time = c.registration_time
      and (earlier._load_id, earlier._line_number) < (c._load_id, c._line_number)
)
