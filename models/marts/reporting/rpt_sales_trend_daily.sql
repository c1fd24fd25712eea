-- Net sales per store and day with the average order value and a 7-day trend: the average
-- daily net sales over the 7 calendar days ending on the day (a day without sales counts
-- as 0; days before the store's first sales day do not count).
with

daily_sales as (

    select * from {{ ref('rpt_daily_store_sales') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

first_days as (

    select
        store_code,
        min(sales_date) as first_sales_date

    from daily_sales
    group by store_code

),

-- each day with the store's days of the 7 calendar days ending on it
window_days as (

    select
        daily_sales.store_code,
        daily_sales.sales_date,
        sum(cast(earlier.net_sales * 100 as {{ dbt.type_bigint() }})) as trailing_net_cents

    from daily_sales
    inner join daily_sales as earlier
        on
            daily_sales.store_code = earlier.store_code
            and daily_sales.sales_date >= earlier.sales_date
            and earlier.sales_date
            > {{ dbt.dateadd('day', -7, 'daily_sales.sales_date') }}
    group by daily_sales.store_code, daily_sales.sales_date

),

trend as (

    select
        window_days.store_code,
        window_days.sales_date,
        window_days.trailing_net_cents,
        case
            when
                {{ dbt.datediff('first_days.first_sales_date', 'window_days.sales_date', 'day') }}
                < 6
                then
                    {{ dbt.datediff(
                        'first_days.first_sales_date', 'window_days.sales_date', 'day'
                    ) }}
                    + 1
            else 7
        end as days_in_window

    from window_days
    inner join first_days
        on window_days.store_code = first_days.store_code

),

final as (

    select
        daily_sales.store_code,
        daily_sales.sales_date,
        stores.currency,
        daily_sales.orders,
        daily_sales.net_sales,
        {{ ratio_2dp(
            'cast(daily_sales.net_sales * 100 as ' ~ dbt.type_bigint() ~ ')',
            '100 * daily_sales.orders'
        ) }} as average_order_value,
        {{ ratio_2dp('trend.trailing_net_cents', '100 * trend.days_in_window') }}
            as net_sales_7d_average,
        cast(trend.days_in_window as {{ dbt.type_bigint() }}) as trend_days

    from daily_sales
    inner join trend
        on
            daily_sales.store_code = trend.store_code
            and daily_sales.sales_date = trend.sales_date
    left join stores
        on daily_sales.store_code = stores.store_code

)

select * from final
