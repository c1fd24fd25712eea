-- Ovens against orders, per store and hour (UTC; the store's local hour beside it): how much
-- of the hour the oven was on, how many pizzas went in, and how many orders and pizzas the
-- POS and franchise tills took in that hour (the sales marts).
with

cleaned as (

    select * from {{ ref('int_sensor_readings_cleaned') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

oven_hours as (

    select
        store_code,
        reading_hour,
        count(distinct device_id) as ovens,
        count(*) as readings,
        sum(case when power_w > 0 then 1 else 0 end) as power_on_readings,
        sum(power_w) as power_w_sum,
        sum(pizzas_baked) as pizzas_baked,
        max(case when is_valid then temperature_c end) as max_temperature_c

    from cleaned
    where device_kind = 'oven'
    group by store_code, reading_hour

),

orders_hourly as (

    select
        store_code,
        cast({{ dbt.date_trunc('hour', 'ordered_at') }} as {{ dbt.type_timestamp() }})
            as order_hour,
        count(*) as orders

    from orders
    where not is_voided
    group by store_code, order_hour

),

pizzas_hourly as (

    select
        orders.store_code,
        cast({{ dbt.date_trunc('hour', 'orders.ordered_at') }} as {{ dbt.type_timestamp() }})
            as order_hour,
        sum(order_items.quantity) as pizzas_ordered

    from order_items
    inner join orders
        on order_items.order_key = orders.order_key
    inner join products
        on order_items.product_key = products.product_key
    where
        not orders.is_voided
        and not order_items.is_voided
        and products.category = 'pizza'
    group by orders.store_code, order_hour

),

final as (

    select
        oven_hours.store_code,
        oven_hours.reading_hour as hour_start_at,
        cast(oven_hours.reading_hour as date) as hour_date,
        cast(
            extract(
                hour from {{ utc_to_local_timestamp('oven_hours.reading_hour', 'stores.timezone') }}
            ) as {{ dbt.type_bigint() }}
        ) as local_hour,
        cast(oven_hours.ovens as {{ dbt.type_bigint() }}) as ovens,
        {{ ratio_2dp('60 * oven_hours.power_on_readings', 'oven_hours.readings') }}
            as oven_on_minutes,
        {{ ratio_2dp('oven_hours.power_w_sum', 'oven_hours.readings') }} as avg_power_w,
        cast(oven_hours.max_temperature_c as decimal(9, 2)) as max_temperature_c,
        cast(coalesce(oven_hours.pizzas_baked, 0) as {{ dbt.type_bigint() }}) as pizzas_baked,
        cast(coalesce(orders_hourly.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(
            coalesce(pizzas_hourly.pizzas_ordered, 0) as {{ dbt.type_bigint() }}
        ) as pizzas_ordered,
        {{ ratio_2dp(
            'oven_hours.pizzas_baked * oven_hours.readings', 'oven_hours.power_on_readings'
        ) }} as pizzas_per_oven_hour,
        oven_hours.power_on_readings > 0
        and coalesce(orders_hourly.orders, 0) = 0 as is_on_without_orders

    from oven_hours
    inner join stores
        on oven_hours.store_code = stores.store_code
    left join orders_hourly
        on
            oven_hours.store_code = orders_hourly.store_code
            and oven_hours.reading_hour = orders_hourly.order_hour
    left join pizzas_hourly
        on
            oven_hours.store_code = pizzas_hourly.store_code
            and oven_hours.reading_hour = pizzas_hourly.order_hour

)

select * from final
