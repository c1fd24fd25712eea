with

products as (

    select * from {{ ref('int_products_unioned') }}

),

final as (

    select
        product_key,
        product_id,
        sku,
        product_name,
        category,
        size,
        current_price,
        is_active,
        source_system,
        store_code,
        source_product_code,
        is_mapped

    from products

)

select * from final
