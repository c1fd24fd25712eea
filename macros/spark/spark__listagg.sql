{#-
    spark__listagg: dbt.listagg on Spark honouring its order_by_clause, as DuckDB does.
    dbt-spark 1.11 drops the ordering (with a warning) and joins the values in whatever
    order they arrive, so a listed column (sentiment terms, top complaint tags) came out
    in another order than on DuckDB. Spark 4 has listagg ... within group (order by ...).
    With a limit_num it stays dbt-spark's own. Found by dispatch before the adapter's
    version; other engines never call it.
-#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause and not limit_num -%}
        listagg({{ measure }}, {{ delimiter_text }}) within group ({{ order_by_clause }})
    {%- else -%}
        {{ return(dbt.spark__listagg(measure, delimiter_text, order_by_clause, limit_num)) }}
    {%- endif -%}
{%- endmacro %}
