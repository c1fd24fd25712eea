{#-
    not_stale: the latest value of a date or timestamp column is at most max_age
    datepart units (day by default) before a reference point: the latest value of
    reference_column in reference_model when given (data that must keep up with other
    data, e.g. stock days with sales days), else the current timestamp (data that must
    keep up with the clock). Fails with one row (the latest value, the reference) when
    the column is stale or empty.
-#}
{% test not_stale(
    model,
    column_name,
    max_age=1,
    datepart='day',
    reference_model=none,
    reference_column=none
) %}

with

latest as (

    select max({{ column_name }}) as latest_value

    from {{ model }}

),

reference as (

    {% if reference_model is not none -%}
        select max({{ reference_column or column_name }}) as reference_value

        from {{ reference_model }}
    {%- else -%}
        select {{ dbt.current_timestamp() }} as reference_value
    {%- endif %}

),

validation_errors as (

    select
        latest.latest_value,
        reference.reference_value

    from latest
    cross join reference
    where
        latest.latest_value is null
        -- dbt.dateadd, not dbt.datediff: on Spark datediff goes through
        -- macros/spark/spark__datediff.sql, whose call of dbt.spark__datediff fails in
        -- a generic test (the `dbt` namespace there lacks the adapter's macros)
        or cast(latest.latest_value as {{ dbt.type_timestamp() }})
        < {{ dbt.dateadd(
            datepart,
            -1 * (max_age | int),
            'cast(reference.reference_value as ' ~ dbt.type_timestamp() ~ ')'
        ) }}

)

select * from validation_errors

{% endtest %}
