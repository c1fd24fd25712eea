{#-
    The products of every source system in one shape: the myPizza POS's menu (chain-wide),
    and each franchise store's pizzas (one product per store and pizza), tied to the
    equivalent myPizza sku by the franchise_product_map seed where there is one. A pizza
    without an equivalent stays its own product, `is_mapped` false.
-#}
with

pos_products as (

    select * from {{ ref('stg_pos__products') }}

),

franchise_pizzas as (

    select * from {{ ref('stg_franchise__pizzas') }}

),

franchise_pizza_types as (

    select * from {{ ref('stg_franchise__pizza_types') }}

),

product_map as (

    select * from {{ ref('franchise_product_map') }}

),

pos_final as (

    select
        {{ generate_surrogate_key(['source_system', 'product_id']) }} as product_key,
        product_id,
        cast(null as {{ dbt.type_string() }}) as store_code,
        sku as source_product_code,
        sku,
        product_name,
        category,
        size,
        price as current_price,
        is_active,
        true as is_mapped,
        source_system

    from pos_products

),

franchise_final as (

    select
        {{ generate_surrogate_key([
            'franchise_pizzas.source_system',
            'franchise_pizzas.store_code',
            'franchise_pizzas.pizza_id',
        ]) }} as product_key,
        cast(null as {{ dbt.type_bigint() }}) as product_id,
        franchise_pizzas.store_code,
        franchise_pizzas.pizza_id as source_product_code,
        product_map.sku,
        coalesce(
            franchise_pizza_types.pizza_type_name, franchise_pizzas.pizza_type_id
        ) as product_name,
        'pizza' as category,
        franchise_pizzas.size,
        franchise_pizzas.price as current_price,
        true as is_active,
        product_map.sku is not null as is_mapped,
        franchise_pizzas.source_system

    from franchise_pizzas
    left join franchise_pizza_types
        on
            franchise_pizzas.store_code = franchise_pizza_types.store_code
            and franchise_pizzas.pizza_type_id = franchise_pizza_types.pizza_type_id
    left join product_map
        on
            franchise_pizzas.pizza_type_id = product_map.pizza_type_id
            and franchise_pizzas.size = product_map.size

),

final as (

    select * from pos_final
    union all
    select * from franchise_final

)

select * from final
