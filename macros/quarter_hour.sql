{#-
    quarter_hour: the start of the quarter hour (00, 15, 30 or 45 minutes past) a timestamp
    falls in. Every time zone's offset from UTC is a whole number of quarter hours and
    changes on a quarter hour, so a UTC timestamp and the start of its quarter hour fall in
    the same local hour: a model can convert each quarter hour once instead of each row
    (rpt_sales_by_hour). Dispatched: DuckDB's time_bucket, Spark's epoch seconds.
-#}
{% macro quarter_hour(column_name) -%}
    {{ return(adapter.dispatch('quarter_hour')(column_name)) }}
{%- endmacro %}

{% macro default__quarter_hour(column_name) -%}
    timestamp_seconds(cast(floor(unix_timestamp({{ column_name }}) / 900) * 900 as bigint))
{%- endmacro %}

{% macro duckdb__quarter_hour(column_name) -%}
    time_bucket(interval '15 minutes', {{ column_name }})
{%- endmacro %}
