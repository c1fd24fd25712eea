{#-
    utc_to_local_timestamp: the reverse of local_to_utc_timestamp. A plain timestamp holding
    UTC wall-clock time (as every timestamp of the warehouse) to the wall-clock time of an
    IANA time zone (a column or a quoted literal), e.g. to tell the hour a store was busy.
    Dispatched: DuckDB's timezone() twice (UTC instant, then local wall clock; the result does
    not depend on the session's TimeZone setting) and Spark's from_utc_timestamp().
-#}
{% macro utc_to_local_timestamp(column_name, timezone) -%}
    {{ return(adapter.dispatch('utc_to_local_timestamp')(column_name, timezone)) }}
{%- endmacro %}

{% macro default__utc_to_local_timestamp(column_name, timezone) -%}
    from_utc_timestamp({{ column_name }}, {{ timezone }})
{%- endmacro %}

{% macro duckdb__utc_to_local_timestamp(column_name, timezone) -%}
    timezone({{ timezone }}, timezone('UTC', {{ column_name }}))
{%- endmacro %}
