{#-
    The live slice (tag `live`, docs/live.md): one row per POS store for its current
    business day: orders taken (every order, voided ones too), orders and net sales as
    the reports count them, open and late deliveries, and the last order's time.
-#}
with

sales as (

    select * from {{ ref('rpt_live_sales_by_hour') }}

),

deliveries as (

    select * from {{ ref('rpt_live_open_deliveries') }}

),

orders as (

    select * from {{ ref('stg_pos__orders') }}

),

pos_stores as (

    select * from {{ ref('stg_pos__stores') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

store_days as (

    select
        orders.store_id,
        pos_stores.store_code,
        max(orders.business_date) as sales_date

    from orders
    inner join pos_stores
        on orders.store_id = pos_stores.store_id
    group by orders.store_id, pos_stores.store_code

),

taken as (

    select
        store_days.store_code,
        count(*) as orders_taken,
        max(orders.ordered_at) as last_order_at

    from orders
    inner join store_days
        on
            orders.store_id = store_days.store_id
            and orders.business_date = store_days.sales_date
    group by store_days.store_code

),

day_sales as (

    select
        sales.store_code,
        sum(sales.orders) as orders,
        sum(sales.net_sales) as net_sales

    from sales
    inner join store_days
        on
            sales.store_code = store_days.store_code
            and sales.sales_date = store_days.sales_date
    group by sales.store_code

),

open_deliveries as (

    select
        store_code,
        count(*) as open_deliveries,
        count(case when is_late then 1 end) as late_deliveries

    from deliveries
    group by store_code

),

final as (

    select
        store_days.store_code,
        store_days.sales_date,
        stores.currency,
        cast(taken.orders_taken as {{ dbt.type_bigint() }}) as orders_taken,
        cast(coalesce(day_sales.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(day_sales.net_sales, 0) as decimal(18, 2)) as net_sales,
        cast(
            coalesce(open_deliveries.open_deliveries, 0) as {{ dbt.type_bigint() }}
        ) as open_deliveries,
        cast(
            coalesce(open_deliveries.late_deliveries, 0) as {{ dbt.type_bigint() }}
        ) as late_deliveries,
        taken.last_order_at

    from store_days
    inner join taken
        on store_days.store_code = taken.store_code
    left join day_sales
        on store_days.store_code = day_sales.store_code
    left join open_deliveries
        on store_days.store_code = open_deliveries.store_code
    left join stores
        on store_days.store_code = stores.store_code

)

select * from final
