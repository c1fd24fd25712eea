with

orders as (

    select * from {{ ref('fct_orders') }}

),

daily_store_sales as (

    select
        store_code,
        sales_date,
        count(*) as orders,
        sum(items) as items_sold,
        sum(order_total) as gross_sales,
        sum(refund_amount) as refunds

    from orders
    where not is_voided
    group by store_code, sales_date

),

final as (

    select
        store_code,
        sales_date,
        cast(orders as {{ dbt.type_bigint() }}) as orders,
        cast(items_sold as {{ dbt.type_bigint() }}) as items_sold,
        cast(gross_sales as decimal(18, 2)) as gross_sales,
        cast(refunds as decimal(18, 2)) as refunds,
        cast(gross_sales - refunds as decimal(18, 2)) as net_sales

    from daily_store_sales

)

select * from final
