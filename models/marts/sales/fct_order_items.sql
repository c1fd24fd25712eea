with

order_items as (

    select * from {{ ref('int_order_items_unioned') }}

),

final as (

    select
        order_item_key,
        order_key,
        store_code,
        product_key,
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
