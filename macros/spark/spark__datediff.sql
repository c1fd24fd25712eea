{#-
    spark__datediff: dbt.datediff on Spark with the meaning it has on DuckDB (and Postgres,
    Snowflake): for hours, minutes and seconds, the number of boundaries crossed between
    the two timestamps. dbt-spark 1.11 rounds the elapsed time up instead (10:00:10 to
    10:01:50 is 2 minutes there, 1 on DuckDB), so one model gave other numbers on the two
    engines (fct_reviews.hours_to_first_reply). Boundaries are counted in UTC, the session
    time zone of the profile. Other dateparts are dbt-spark's own. Found by dispatch before
    the adapter's version; other engines never call it.
-#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set seconds_per = {'hour': 3600, 'minute': 60, 'second': 1} -%}
    {%- if datepart in seconds_per -%}
        (
            floor(unix_seconds(cast({{ second_date }} as timestamp)) / {{ seconds_per[datepart] }})
            - floor(unix_seconds(cast({{ first_date }} as timestamp)) / {{ seconds_per[datepart] }})
        )
    {%- else -%}
        {{ return(dbt.spark__datediff(first_date, second_date, datepart)) }}
    {%- endif -%}
{%- endmacro %}
