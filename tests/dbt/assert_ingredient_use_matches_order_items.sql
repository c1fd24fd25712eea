-- The use in fct_inventory_daily must be what fct_order_items sold, through the recipes:
-- for every store, day and ingredient, the units on lines that are not voided times the
-- ingredient's quantity in the product's recipe, in stock units.
-- Returns one row per store, day and ingredient that differs or exists on one side only.
with

inventory_daily as (

    select * from {{ ref('fct_inventory_daily') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

recipes as (

    select * from {{ ref('recipes') }}

),

ingredients as (

    select * from {{ ref('ingredients') }}

),

expected as (

    select
        order_items.store_code,
        order_items.sales_date,
        recipes.ingredient_code,
        sum(
            order_items.quantity
            * cast(recipes.quantity * ingredients.units_per_recipe_unit as decimal(18, 6))
        ) as used_quantity

    from order_items
    inner join products
        on order_items.product_key = products.product_key
    inner join recipes
        on products.sku = recipes.sku
    inner join ingredients
        on recipes.ingredient_code = ingredients.ingredient_code
    where
        not order_items.is_voided
        -- the POS's stores: franchise stores have no inventory system
        and order_items.source_system = '{{ var("pos_source_system") }}'
    group by order_items.store_code, order_items.sales_date, recipes.ingredient_code

),

actual as (

    select
        store_code,
        inventory_date,
        ingredient_code,
        used_quantity

    from inventory_daily
    where used_quantity != 0

),

final as (

    select
        coalesce(expected.store_code, actual.store_code) as store_code,
        coalesce(expected.sales_date, actual.inventory_date) as sales_date,
        coalesce(expected.ingredient_code, actual.ingredient_code) as ingredient_code,
        expected.used_quantity as expected_used_quantity,
        actual.used_quantity as actual_used_quantity

    from expected
    full outer join actual
        on
            expected.store_code = actual.store_code
            and expected.sales_date = actual.inventory_date
            and expected.ingredient_code = actual.ingredient_code
    where
        expected.used_quantity is null
        or actual.used_quantity is null
        or expected.used_quantity != actual.used_quantity

)

select * from final
