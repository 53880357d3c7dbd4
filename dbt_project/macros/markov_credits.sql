{#
  Markov credits of a path (`steps`, a text[] expression of the row it is joined to laterally): each
  distinct channel c gets RE_c / the sum of RE over the path's distinct channels (an equal split when that
  sum is 0); no steps (a registration without a touch in the window): 1.0 to var('unattributed_channel').
  Rows: channel, credit.
#}
{% macro markov_credits(steps) -%}
    (
        select
            u.channel,
            case
                when sum(coalesce(m.removal_effect, 0)) over () > 0
                    then coalesce(m.removal_effect, 0) / sum(coalesce(m.removal_effect, 0)) over ()
                else 1.0 / count(*) over ()
            end as credit
        from (
            select distinct unnest(
                case
                    when cardinality({{ steps }}) = 0 then array['{{ var("unattributed_channel") }}']
                    else {{ steps }}
                end
            ) as channel
        ) as u
        left join {{ ref('markov_channel_attribution') }} as m on m.channel = u.channel
    )
{%- endmacro %}
