-- What the sales of a day took of each ingredient by the book: the countable order
-- lines (not voided, order not voided) times the recipes, in the ingredient's stock unit.
with

order_items as (

    select * from {{ ref('int_order_items_priced') }}

),

products as (

    select * from {{ ref('stg_pos__products') }}

),

-- what one unit of each product takes of each ingredient, in stock units
recipe_use as (

    {{ recipe_use(ref('recipes'), ref('ingredients')) }}

),

units_sold as (

    select
        order_items.store_code,
        order_items.sales_date,
        products.sku,
        sum(order_items.quantity) as units_sold

    from order_items
    inner join products
        on
            order_items.product_id = products.product_id
            and order_items.source_system = products.source_system
    where order_items.is_countable
    group by order_items.store_code, order_items.sales_date, products.sku

),

consumed as (

    select
        units_sold.store_code,
        units_sold.sales_date,
        recipe_use.ingredient_code,
        sum(units_sold.units_sold) as units_sold,
        sum(units_sold.units_sold * recipe_use.quantity_per_unit) as used_quantity

    from units_sold
    inner join recipe_use
        on units_sold.sku = recipe_use.sku
    group by units_sold.store_code, units_sold.sales_date, recipe_use.ingredient_code

),

final as (

    select
        store_code,
        sales_date,
        ingredient_code,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(used_quantity as decimal(18, 3)) as used_quantity

    from consumed

)

select * from final
