{#
  Markov credits of a path's distinct channels (`channels`, a text[] column of the row it is joined to
  laterally): RE_c / the sum of RE over those channels (an equal split when that sum is 0); no channel (a
  registration without a touch in the window): 1.0 to var('unattributed_channel'). Rows: channel, credit.
#}
{% macro markov_credits(channels) -%}
    (
        select
            u.channel,
            case
                when sum(coalesce(m.removal_effect, 0)) over () > 0
                    then coalesce(m.removal_effect, 0) / sum(coalesce(m.removal_effect, 0)) over ()
                else 1.0 / count(*) over ()
            end as credit
        from unnest(
            case
                when cardinality({{ channels }}) = 0 then array['{{ var("unattributed_channel") }}']
                else {{ channels }}
            end
        ) as u (channel)
        left join {{ ref('markov_channel_attribution') }} as m on m.channel = u.channel
    )
{%- endmacro %}
