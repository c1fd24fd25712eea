{#-
    local_to_utc_timestamp: a wall-clock timestamp without time zone, read in the IANA time
    zone of a store (a column or a quoted literal), to a plain timestamp holding UTC
    wall-clock time, as every other timestamp of the warehouse. Dispatched: DuckDB's
    timezone() (the result does not depend on the session's TimeZone setting) and Spark's
    to_utc_timestamp().
-#}
{% macro local_to_utc_timestamp(column_name, timezone) -%}
    {{ return(adapter.dispatch('local_to_utc_timestamp')(column_name, timezone)) }}
{%- endmacro %}

{% macro default__local_to_utc_timestamp(column_name, timezone) -%}
    to_utc_timestamp({{ column_name }}, {{ timezone }})
{%- endmacro %}

{% macro spark__local_to_utc_timestamp(column_name, timezone) -%}
    to_utc_timestamp({{ column_name }}, {{ timezone }})
{%- endmacro %}

{% macro duckdb__local_to_utc_timestamp(column_name, timezone) -%}
    make_timestamp(epoch_us(timezone({{ timezone }}, {{ column_name }})))
{%- endmacro %}
