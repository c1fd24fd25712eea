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

-- the orders that sold, with the quarter hour each was placed in
orders_in_quarters as (

    select
        orders.store_code,
        orders.sales_date,
        orders.order_channel,
        orders.order_total,
        orders.refund_amount,
        stores.timezone,
        {{ quarter_hour('orders.ordered_at') }} as ordered_quarter

    from orders
    inner join stores
        on orders.store_code = stores.store_code
    where not orders.is_voided

),

distinct_quarters as (

    select distinct
        timezone,
        ordered_quarter

    from orders_in_quarters

),

-- the hour on the store's clock of each quarter hour, which is the hour of every order
-- placed in it (macro quarter_hour): converted once per time zone and quarter hour, not
-- per order (medium world: 96,000 against 1.2 million, 0.7 s against 4.8 s)
local_hours as (

    select
        timezone,
        ordered_quarter,
        cast(
            extract(
                hour from {{ utc_to_local_timestamp('ordered_quarter', 'timezone') }}
            ) as {{ dbt.type_bigint() }}
        ) as hour_of_day

    from distinct_quarters

),

orders_local as (

    select
        orders_in_quarters.store_code,
        orders_in_quarters.sales_date,
        orders_in_quarters.order_channel,
        orders_in_quarters.order_total,
        orders_in_quarters.refund_amount,
        local_hours.hour_of_day

    from orders_in_quarters
    left join local_hours
        on
            orders_in_quarters.timezone = local_hours.timezone
            and orders_in_quarters.ordered_quarter = local_hours.ordered_quarter

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
