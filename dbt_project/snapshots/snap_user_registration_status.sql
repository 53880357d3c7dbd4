{% snapshot snap_user_registration_status %}
    {{
        config(
            unique_key='user_id',
            strategy='check',
            check_cols=['registration_count', 'first_registration_at', 'first_channel', 'first_channel_medium'],
            post_hook=[
                "create index if not exists {{ this.identifier }}_scd_id on {{ this }} (dbt_scd_id)",
                "create index if not exists {{ this.identifier }}_watermarks on {{ this }}"
                ~ " (_sessions_load_id, _registrations_load_id)",
            ],
        )
    }}
    {#
      Checks only the users whose status can have changed since the snapshot's newest version, not every
      registered user. A status changes only when one of the user's registrations is (re)attributed, which
      stamps it with the run's watermarks (they only grow); each version keeps the watermarks of its user.
      - Users with a registration stamped after the newest version are checked; a run whose snapshot failed
        or was skipped is caught up by the next one, as its newest version is older.
      - An attribution built in one run (every row has the same watermarks: a first build or a full refresh,
        maybe of new rules or a new channel mapping on the same loads) is checked in full.
      - The first run, and a snapshot from before the watermark columns, check every user.
      Users not selected keep their current version: the snapshot ignores rows missing from its input.
      Indexes (post-hooks): the newest watermarks are the last entry of one; dbt closes the changed users'
      versions by dbt_scd_id through the other, rather than by a scan of every version.
    #}
    {%- set attribution = ref('registration_attribution') -%}
    {%- set built_in_one_run_query -%}
        select
            (select array[_sessions_load_id, _registrations_load_id] from {{ attribution }}
             order by _sessions_load_id, _registrations_load_id limit 1)
            = (select array[_sessions_load_id, _registrations_load_id] from {{ attribution }}
               order by _sessions_load_id desc, _registrations_load_id desc limit 1)
    {%- endset -%}
    {%- set newest = none -%}
    {%- if execute and load_relation(this) is not none
          and '_sessions_load_id' in adapter.get_columns_in_relation(this) | map(attribute='name') | list
          and not run_query(built_in_one_run_query).rows[0][0] -%}
        {%- set newest = stored_watermarks(this) -%}
    {%- endif %}

    -- the status as in int_user_registration_status, from the attribution directly: queued as soon as the
    -- attribution's tests pass, beside attribution_credits, instead of behind every test queued meanwhile
    select * from ({{ user_registration_status(attribution) }}) as user_registration_status
    {%- if newest is not none %}
    -- an array parameter, not a semi-join: Postgres then filters below the model's window functions
    where user_id = any(array(
        select user_id
        from {{ attribution }}
        where (_sessions_load_id, _registrations_load_id) > ({{ newest[0] }}, {{ newest[1] }})
    ))
    {%- endif %}

{% endsnapshot %}
