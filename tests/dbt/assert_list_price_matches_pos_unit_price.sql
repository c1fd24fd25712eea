-- The POS charges the menu price: wherever the menu's price history (snp_pos__products)
-- knows the price valid when an order was placed, the line's unit price (before its
-- discount) is that price. Fails with one row per POS line charged another price.
with

order_items as (

    select * from {{ ref('fct_order_items') }}

),

mismatched as (

    select
        order_item_key,
        sales_date,
        unit_price,
        list_price

    from order_items
    where
        source_system = '{{ var("pos_source_system") }}'
        and list_price is not null
        and unit_price != list_price

)

select * from mismatched
