{#-
    incremental_lookback_filter: which rows an incremental run of a fact rebuilds, as a
    boolean SQL expression over the rows of `relation_alias` (a CTE of the model); use it
    inside `{% if is_incremental() %}` only, as it reads the model's table (`this`):

    - every row dated within `lookback_days` of the latest date already in the table:
      late-arriving changes to recent rows (a delivery confirmed next morning, a refund
      one to three days later) land there, and delete+insert on the unique key replaces
      the old versions of those rows;
    - every row whose `key_columns` the table does not hold yet, whatever its date: rows
      that arrive late for an old day (a franchise store's first export, a resent file).

    The lookback defaults to the `incremental_lookback_days` var (7 days if unset). A
    change to a row older than that, under a key already loaded, needs
    `dbt build --full-refresh`.
-#}
{% macro incremental_lookback_filter(relation_alias, date_column, key_columns, lookback_days=none) -%}
    {%- set days = lookback_days if lookback_days is not none
        else var('incremental_lookback_days', 7) -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    (
        {{ relation_alias }}.{{ date_column }} >= (
            select cast({{ dbt.dateadd('day', -1 * (days | int), 'max(' ~ date_column ~ ')') }} as date)
            from {{ this }}
        )
        or not exists (
            select 1
            from {{ this }} as existing
            where
                {%- for key in keys %}
                existing.{{ key }} = {{ relation_alias }}.{{ key }}{% if not loop.last %} and{% endif %}
                {%- endfor %}
        )
    )
{%- endmacro %}
