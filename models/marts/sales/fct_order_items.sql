with

order_items as (

    select * from {{ ref('int_order_items_priced') }}

),

final as (

    select
        {{ generate_surrogate_key(['source_system', 'order_item_id']) }} as order_item_key,
        {{ generate_surrogate_key(['source_system', 'order_id']) }} as order_key,
        store_code,
        {{ generate_surrogate_key(['source_system', 'product_id']) }} as product_key,
        sales_date,
        quantity,
        unit_price,
        discount,
        line_total,
        is_voided,
        source_system

    from order_items

)

select * from final
