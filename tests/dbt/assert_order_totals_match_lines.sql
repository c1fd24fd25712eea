{{ config(tags=['reconciles']) }}

-- Tagged `reconciles`: the marts it compares are published together, or held back
-- together (docs/failures.md).
-- The order total of every order in fct_orders is the sum of the line totals of its
-- lines in fct_order_items (0 for an order without lines).
-- Returns every order whose total differs.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

line_sums as (

    select
        order_key,
        sum(line_total) as sum_of_line_totals

    from order_items
    group by order_key

),

final as (

    select
        orders.order_key,
        orders.order_total,
        line_sums.sum_of_line_totals

    from orders
    left join line_sums
        on orders.order_key = line_sums.order_key
    where orders.order_total != coalesce(line_sums.sum_of_line_totals, 0)

)

select * from final
