{{ config(schema='quarantine', materialized='table') }}

-- POS order lines that break a business rule, with the rule: stg_pos__order_items leaves
-- them out, so the marts never count them, and they stay here until the POS corrects them
-- (a corrected line arrives with a new updated_at and leaves the quarantine).

with

order_items as (

    select * from {{ source('pos', 'order_items') }}

),

products as (

    select product_id from {{ source('pos', 'products') }}

),

checked as (

    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.product_id,
        order_items.quantity,
        {{ as_utc_timestamp('order_items.updated_at') }} as updated_at,
        case
            when order_items.quantity < 0
                then 'negative quantity'
            when products.product_id is null
                then 'order line of a product the POS does not have'
        end as quarantine_rule

    from order_items
    left join products
        on order_items.product_id = products.product_id

)

select * from checked
where quarantine_rule is not null
