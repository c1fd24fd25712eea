with

orders as (

    select * from {{ ref('int_orders_unioned') }}

),

final as (

    select
        order_key,
        order_id,
        store_code,
        customer_key,
        ordered_at,
        sales_date,
        order_channel,
        order_status,
        is_voided,
        is_refunded,
        items,
        order_total,
        refund_amount,
        net_total,
        source_system

    from orders

)

select * from final
