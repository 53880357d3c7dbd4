{#
  Registrations, one row per distinct (user_id, registration_time): exact duplicate rows collapse into
  their first occurrence (lowest load, then line), as for the sessions. In the "no earlier copy" form, so
  that fct_registrations can read only the new loads.
#}
with

-- read twice (the rows and their earlier copies): not materialised, so that each read is planned on the table
raw_conversions as not materialized (
    select * from {{ source('raw', 'conversions') }}
)

select
    {{ registration_key('delivered.user_id', 'delivered.registration_time') }} as registration_key,
    delivered.user_id,
    delivered.registration_time,
    delivered._load_id,
    delivered._source_file,
    delivered._line_number,
    delivered._loaded_at
from raw_conversions as delivered
where
    not exists (
        select 1
        from raw_conversions as earlier
        where
            delivered.user_id = earlier.user_id
            and delivered.registration_time = earlier.registration_time
            and (earlier._load_id, earlier._line_number) < (delivered._load_id, delivered._line_number)
    )
