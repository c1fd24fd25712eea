with

orders as (

    select * from {{ ref('int_orders_summarised') }}

),

final as (

    select
        {{ generate_surrogate_key(['source_system', 'order_id']) }} as order_key,
        order_id,
        store_code,
        case
            when customer_id is not null
                then {{ generate_surrogate_key(['source_system', 'customer_id']) }}
        end as customer_key,
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
