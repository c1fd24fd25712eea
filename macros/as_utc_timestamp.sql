{#-
    as_utc_timestamp: a POS timestamp (UTC) to a plain timestamp holding UTC
    wall-clock time, whether the loader landed it as a timestamp with time zone or
    as a naive timestamp already in UTC. On DuckDB it goes through microseconds since
    the epoch, which depend on neither the column type nor the reader's TimeZone
    setting, so staging views read the same for everyone. Other engines (Spark) keep
    timestamps as instants shown in the session time zone, set to UTC by the profile.
-#}
{% macro as_utc_timestamp(column_name) -%}
    {{ return(adapter.dispatch('as_utc_timestamp')(column_name)) }}
{%- endmacro %}

{% macro default__as_utc_timestamp(column_name) -%}
    cast({{ column_name }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__as_utc_timestamp(column_name) -%}
    make_timestamp(epoch_us({{ column_name }}))
{%- endmacro %}
