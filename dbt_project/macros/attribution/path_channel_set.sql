{#
  The set of channels of a path (`steps`, a text[] expression): its distinct channels, sorted; for a path
  without steps, the unattributed channel alone (what the Markov credits give such a registration).
#}
{% macro path_channel_set(steps) -%}
    case
        when cardinality({{ steps }}) = 0 then array['{{ var("unattributed_channel") }}']
        else array(select distinct path_step from unnest({{ steps }}) as path_step order by path_step)
    end
{%- endmacro %}
