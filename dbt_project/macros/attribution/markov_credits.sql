{#
  Markov credits of a path (`steps`, a text[] expression of the row it is joined to laterally): each
  distinct channel c gets RE_c / the sum of RE over the path's distinct channels (an equal split when that
  sum is 0); no steps (a registration without a touch in the window): 1.0 to var('unattributed_channel').
  `removal_effects`: markov_channel_attribution (or a CTE of it). Rows: channel, credit.
#}
{% macro markov_credits(steps, removal_effects) -%}
    (
        select
            path_channel.channel,
            case
                when sum(coalesce(removal.removal_effect, 0)) over () > 0
                    then coalesce(removal.removal_effect, 0) / sum(coalesce(removal.removal_effect, 0)) over ()
                else 1.0 / count(*) over ()
            end as credit
        from (
            select distinct
                unnest(
                    case
                        when cardinality({{ steps }}) = 0 then array['{{ var("unattributed_channel") }}']
                        else {{ steps }}
                    end
                ) as channel
        ) as path_channel
        left join {{ removal_effects }} as removal
            on path_channel.channel = removal.channel
    )
{%- endmacro %}
