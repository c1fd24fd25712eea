-- The waste log in ingredients: a line that threw away an ingredient stays as it is; a
-- line that threw away a product (or dough balls) becomes one line per ingredient of its
-- recipe.
with

waste as (

    select * from {{ ref('stg_inventory__waste') }}

),

-- what one unit of each product takes of each ingredient, in stock units
recipe_use as (

    {{ recipe_use(ref('recipes'), ref('ingredients')) }}

),

ingredient_waste as (

    select
        waste_id,
        ingredient_code,
        store_code,
        waste_date,
        waste_reason,
        cast(null as {{ dbt.type_string() }}) as product_sku,
        cast(null as decimal(18, 3)) as product_quantity,
        waste_quantity as wasted_quantity,
        recorded_at,
        file_path

    from waste
    where not is_product

),

product_waste as (

    select
        waste.waste_id,
        recipe_use.ingredient_code,
        waste.store_code,
        waste.waste_date,
        waste.waste_reason,
        waste.product_sku,
        waste.waste_quantity as product_quantity,
        cast(waste.waste_quantity * recipe_use.quantity_per_unit as decimal(18, 3))
            as wasted_quantity,
        waste.recorded_at,
        waste.file_path

    from waste
    inner join recipe_use
        on waste.product_sku = recipe_use.sku
    where waste.is_product

),

final as (

    select * from ingredient_waste

    union all

    select * from product_waste

)

select * from final
