{{ config(tags=['reconciles']) }}

-- Tagged `reconciles`: the marts it compares are published together, or held back
-- together (docs/failures.md).
-- rpt_daily_store_sales must add up to fct_orders: for every store and business day,
-- the count of orders that are not voided, their items, order totals and refunds.
-- Returns one row per store-day that differs or exists on one side only.
with

daily_sales as (

    select * from {{ ref('rpt_daily_store_sales') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

expected as (

    select
        store_code,
        sales_date,
        count(*) as orders,
        sum(items) as items_sold,
        sum(order_total) as gross_sales,
        sum(refund_amount) as refunds,
        sum(net_total) as net_sales

    from orders
    where not is_voided
    group by store_code, sales_date

),

compared as (

    select
        coalesce(expected.store_code, daily_sales.store_code) as store_code,
        coalesce(expected.sales_date, daily_sales.sales_date) as sales_date,
        expected.orders as expected_orders,
        daily_sales.orders as actual_orders,
        expected.gross_sales as expected_gross_sales,
        daily_sales.gross_sales as actual_gross_sales,
        expected.refunds as expected_refunds,
        daily_sales.refunds as actual_refunds,
        expected.net_sales as expected_net_sales,
        daily_sales.net_sales as actual_net_sales,
        expected.items_sold as expected_items_sold,
        daily_sales.items_sold as actual_items_sold

    from expected
    full outer join daily_sales
        on
            expected.store_code = daily_sales.store_code
            and expected.sales_date = daily_sales.sales_date

),

final as (

    select
        store_code,
        sales_date,
        expected_orders,
        actual_orders,
        expected_gross_sales,
        actual_gross_sales,
        expected_refunds,
        actual_refunds,
        expected_net_sales,
        actual_net_sales,
        expected_items_sold,
        actual_items_sold

    from compared
    where
        expected_orders is null
        or actual_orders is null
        or expected_orders != actual_orders
        or expected_items_sold != actual_items_sold
        or expected_gross_sales != actual_gross_sales
        or expected_refunds != actual_refunds
        or expected_net_sales != actual_net_sales

)

select * from final
