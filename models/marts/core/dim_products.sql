with

products as (

    select * from {{ ref('stg_pos__products') }}

),

final as (

    select
        {{ generate_surrogate_key(['source_system', 'product_id']) }} as product_key,
        product_id,
        sku,
        product_name,
        category,
        size,
        price as current_price,
        is_active,
        source_system

    from products

)

select * from final
