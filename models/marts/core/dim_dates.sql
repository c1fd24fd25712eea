{#-
    The spine is generated between two fixed bounds (vars dim_dates_start_date and
    dim_dates_end_date) and cut to the range of order dates. Fixed bounds keep
    compilation free of queries on models (dbt.date_spine counts its days with a query),
    so the model compiles, lints and documents on an empty warehouse.
-#}
with

orders as (

    select * from {{ ref('int_orders_unioned') }}

),

date_spine as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('dim_dates_start_date') ~ "' as date)",
        "cast('" ~ var('dim_dates_end_date') ~ "' as date)"
    ) }}

),

order_date_range as (

    select
        min(sales_date) as first_date,
        max(sales_date) as last_date

    from orders

),

days as (

    select
        cast(date_spine.date_day as date) as date_day,
        cast({{ dbt.date_trunc('week', 'date_spine.date_day') }} as date) as week_start_date,
        cast({{ dbt.date_trunc('month', 'date_spine.date_day') }} as date) as month_start_date

    from date_spine
    inner join order_date_range
        on date_spine.date_day between order_date_range.first_date and order_date_range.last_date

),

final as (

    select
        date_day,
        week_start_date,
        month_start_date,
        cast(extract(year from date_day) as {{ dbt.type_bigint() }}) as year_number,
        cast(extract(month from date_day) as {{ dbt.type_bigint() }}) as month_number,
        -- ISO day of the week, 1 = Monday .. 7 = Sunday (weeks start on Monday)
        cast(
            {{ dbt.datediff('week_start_date', 'date_day', 'day') | trim }} + 1
            as {{ dbt.type_bigint() }}
        ) as day_of_week,
        {{ dbt.datediff('week_start_date', 'date_day', 'day') | trim }} >= 5 as is_weekend

    from days

)

select * from final
