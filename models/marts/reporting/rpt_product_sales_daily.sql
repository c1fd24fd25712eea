-- What each product sold per store and day (lines that are not voided): best and worst
-- sellers over any range of days.
with

order_items as (

    select * from {{ ref('fct_order_items') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

product_days as (

    select
        store_code,
        sales_date,
        product_key,
        count(distinct order_key) as orders,
        sum(quantity) as units_sold,
        sum(line_total) as line_sales

    from order_items
    where not is_voided
    group by store_code, sales_date, product_key

),

final as (

    select
        product_days.store_code,
        product_days.sales_date,
        product_days.product_key,
        products.product_name,
        products.category,
        products.size,
        stores.currency,
        cast(product_days.orders as {{ dbt.type_bigint() }}) as orders,
        cast(product_days.units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(product_days.line_sales as decimal(18, 2)) as line_sales

    from product_days
    left join products
        on product_days.product_key = products.product_key
    left join stores
        on product_days.store_code = stores.store_code

)

select * from final
