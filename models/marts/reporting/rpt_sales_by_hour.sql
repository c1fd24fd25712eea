-- Orders and net sales per store, business day, local hour of the day and channel: the
-- sales heat map (hour of day x weekday) and the channel mix, for any range of days.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

-- the hour on the store's clock when the order was placed
orders_local as (

    select
        orders.store_code,
        orders.sales_date,
        orders.order_channel,
        orders.order_total,
        orders.refund_amount,
        cast(
            extract(
                hour from {{ utc_to_local_timestamp('orders.ordered_at', 'stores.timezone') }}
            ) as {{ dbt.type_bigint() }}
        ) as hour_of_day

    from orders
    inner join stores
        on orders.store_code = stores.store_code
    where not orders.is_voided

),

hourly as (

    select
        store_code,
        sales_date,
        hour_of_day,
        order_channel,
        count(*) as orders,
        sum(order_total) as gross_sales,
        sum(refund_amount) as refunds

    from orders_local
    group by store_code, sales_date, hour_of_day, order_channel

),

final as (

    select
        hourly.store_code,
        hourly.sales_date,
        dates.day_of_week,
        hourly.hour_of_day,
        hourly.order_channel,
        stores.currency,
        cast(hourly.orders as {{ dbt.type_bigint() }}) as orders,
        cast(hourly.gross_sales - hourly.refunds as decimal(18, 2)) as net_sales

    from hourly
    inner join dates
        on hourly.sales_date = dates.date_day
    left join stores
        on hourly.store_code = stores.store_code

)

select * from final
