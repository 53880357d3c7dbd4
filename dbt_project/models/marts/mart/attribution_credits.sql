{{
    config(
        materialized='incremental',
        unique_key='registration_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['heavy', 'attribution'],
        pre_hook="{{ tune_postgres_session('hash_work_mem', index_work_mem='heavy_work_mem', plans_off=['hashagg']) }}",
        indexes=[
            {'columns': ['registration_key', 'channel'], 'unique': True},
            {'columns': ['_sessions_load_id', '_registrations_load_id']},
        ],
    )
}}
{#
  Credit of every registration to channels under each attribution model: one row per registration and
  channel credited by any model, one column per model (<model>_credit, 0 where the model gives the
  channel nothing). Wide rather than one row per model: a third of the rows to write, index and test.
  rule_based: credit 1 to the rule-based channel (registration_attribution).
  Multi-touch models: the touches are the user's sessions with
    registration_time - lookback <= time_started <= registration_time
  in the order time_started, medium, is_paid (false first); a touch's channel is its medium.
    first_touch / last_touch: 1 to the first / last touch; linear: 1/n each;
    time_decay: 2^(-age_days / half_life), normalised to sum 1;
    position_based: n = 1: 1; n = 2: 0.5 each; n >= 3: 0.4 first, 0.4 last, 0.2 shared by the others.
    last_non_direct: 1 to the last touch whose channel is not var('direct_channel'), else to the last touch.
  No touch in the window: 1.0 to var('unattributed_channel') in every multi-touch model.
  Credits of touches with the same channel add up, so a registration's credits sum to 1 per model.
#}
{% set half_life_days = var('attribution_half_life_days') %}
{% set unattributed = var('unattributed_channel') %}
{% set direct = var('direct_channel') %}
{% set touch_weight -%}
    coalesce(
        power(2.0::double precision, -(registration_touches.hours_before_registration / 24.0) / {{ half_life_days }}),
        1.0
    )
{%- endset %}

with

registration_touches as (
    select * from {{ ref('int_registration_touches') }}
),

rule_based_attribution as (
    select * from {{ ref('registration_attribution') }}
),

registrations as not materialized (
    -- read twice, yet inlined: a materialised CTE is scanned by the leader process alone, and every join
    -- with it then runs serially
    {{ registrations_in_scope(ref('fct_registrations'), ref('fct_sessions')) }}
),

touches as (
    -- every registration with its touches in the lookback window; a registration without any is one row
    -- without a touch, whose credit goes to var('unattributed_channel') (n = 1 and weight 1 give it 1.0 in
    -- every model). The registration's columns travel with its touches and credits: joining the credits
    -- back to the registrations at the end sorted millions of rows.
    select
        registrations.registration_key,
        registrations.user_id,
        registrations.registration_date,
        coalesce(registration_touches.medium, '{{ unattributed }}') as channel,
        false as is_rule_based,
        row_number() over touch_order as position,
        count(*) over touch_order as n,
        count(*) filter (where registration_touches.medium != '{{ direct }}') over touch_order as non_direct_touches,
        count(*) filter (
            where registration_touches.medium != '{{ direct }}'
        ) over touches_so_far as non_direct_so_far,
        {{ touch_weight }} as weight,
        sum({{ touch_weight }}) over touch_order as total_weight
    from registrations
    {%- if is_incremental() %}
        left join {{ touches_probe('registrations', 'registration_touches') }} as registration_touches
            on registration_touches.is_in_lookback
    {%- else %}
        left join registration_touches
            on
                registrations.registration_key = registration_touches.registration_key
                and registration_touches.is_in_lookback
    {%- endif %}
    window
        -- one window for all (a single sort): row_number follows the order, count and sum see the whole
        -- registration through the frame
        touch_order as (
            partition by registrations.registration_key
            order by registration_touches.time_started, registration_touches.medium, registration_touches.is_paid
            rows between unbounded preceding and unbounded following
        ),
        -- the same order (and sort), up to the current touch: the last non-direct touch is the one whose
        -- running count of non-direct touches reaches the registration's total
        touches_so_far as (
            partition by registrations.registration_key
            order by registration_touches.time_started, registration_touches.medium, registration_touches.is_paid
            rows between unbounded preceding and current row
        )
),

rule_based as (
    -- the rule-based channel as one more row of the registration, which no multi-touch model counts
    select
        rule_based_attribution.registration_key,
        rule_based_attribution.user_id,
        rule_based_attribution.registration_date,
        rule_based_attribution.channel,
        true as is_rule_based,
        null::bigint as position,
        null::bigint as n,
        null::bigint as non_direct_touches,
        null::bigint as non_direct_so_far,
        null::double precision as weight,
        null::double precision as total_weight
    from rule_based_attribution
    inner join registrations on rule_based_attribution.registration_key = registrations.registration_key
)

-- all seven models in one pass: per registration and channel, the sum over its rows (in double precision
-- throughout: numeric sums over millions of rows cost more). A sort, then a streaming
-- aggregate (enable_hashagg off), rather than a hash table of millions of groups: the rows come out, and
-- are stored, in the order of the unique index, whose build is then cheaper, and the tests that
-- read a registration's credits together find them side by side.
select
    registration_key,
    user_id,
    registration_date,
    channel,
    count(*) filter (where is_rule_based)::double precision as rule_based_credit,
    count(*) filter (where position = 1)::double precision as first_touch_credit,
    count(*) filter (where position = n)::double precision as last_touch_credit,
    coalesce(sum(1.0::double precision / n), 0) as linear_credit,
    coalesce(sum(weight / total_weight), 0) as time_decay_credit,
    coalesce(
        sum(
            case
                when n = 1 then 1.0::double precision
                when n = 2 then 0.5::double precision
                when position = 1 or position = n then 0.4::double precision
                else 0.2::double precision / (n - 2)
            end
        ),
        0
    ) as position_based_credit,
    count(*) filter (
        where (channel != '{{ direct }}' and non_direct_so_far = non_direct_touches)
        or (non_direct_touches = 0 and position = n)
    )::double precision as last_non_direct_credit,
    {{ load_watermarks(ref('fct_sessions'), ref('fct_registrations')) }}
from (
    select * from touches
    union all
    select * from rule_based
) as credit_rows
group by registration_key, user_id, registration_date, channel
