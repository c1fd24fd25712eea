-- Every product the POS sells needs a recipe in seeds/recipes.csv, or its sales use no
-- ingredients and the inventory marts cannot reconcile. Returns every product without one
-- (add it to simulator/recipes.py and regenerate the seed, or to the seed by hand).
with

products as (

    select * from {{ ref('dim_products') }}

),

recipes as (

    select * from {{ ref('recipes') }}

),

recipe_skus as (

    select sku

    from recipes
    group by sku

),

final as (

    select
        products.product_key,
        products.sku,
        products.product_name

    from products
    left join recipe_skus
        on products.sku = recipe_skus.sku
    where
        recipe_skus.sku is null
        -- the POS's products: franchise pizzas have no recipes (no inventory system)
        and products.source_system = '{{ var("pos_source_system") }}'

)

select * from final
