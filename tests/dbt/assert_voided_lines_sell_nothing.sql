-- A voided line, or any line of a voided order, is kept in fct_order_items with a
-- line total of 0; a line that is not voided sells what its prices say.
-- Returns every line that breaks this.
with

order_items as (

    select * from {{ ref('fct_order_items') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

final as (

    select
        order_items.order_item_key,
        order_items.order_key,
        order_items.is_voided,
        orders.order_status,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount,
        order_items.line_total

    from order_items
    inner join orders
        on order_items.order_key = orders.order_key
    where
        (order_items.is_voided and order_items.line_total != 0)
        or (orders.is_voided and not order_items.is_voided)
        or (
            not order_items.is_voided
            and order_items.line_total
            != order_items.quantity * order_items.unit_price - order_items.discount
        )

)

select * from final
