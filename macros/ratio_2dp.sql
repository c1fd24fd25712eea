{#-
    ratio_2dp: numerator / denominator rounded half up (towards +infinity) to 2 decimals,
    as decimal(18, 2); null when the denominator is 0 or null. Both must be integer
    expressions. Worked in integers and one correctly rounded division, so every engine
    gives the same digits: a plain avg() or decimal division is a double on DuckDB and a
    decimal on Spark, and the two round a tie such as 1.005 differently.
    An average to 2 decimals: ratio_2dp('sum(x)', 'count(x)'); of a 2-decimal column:
    ratio_2dp('sum(cast(x * 100 as bigint))', '100 * count(x)').
-#}
{% macro ratio_2dp(numerator, denominator) -%}
    case
        when ({{ denominator }}) > 0
            then cast(
                cast(
                    floor((200 * ({{ numerator }}) + ({{ denominator }})) / (2 * ({{ denominator }})))
                    as {{ dbt.type_bigint() }}
                ) * 0.01 as decimal(18, 2)
            )
    end
{%- endmacro %}
