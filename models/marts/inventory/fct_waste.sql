with

wasted as (

    select * from {{ ref('int_ingredients_wasted') }}

),

ingredients as (

    select * from {{ ref('ingredients') }}

),

backups as (

    select * from {{ ref('stg_inventory__inventory_backups') }}

),

-- valued at the supplier's price of the day, from that night's backup
final as (

    select
        {{ generate_surrogate_key(['wasted.waste_id', 'wasted.ingredient_code']) }}
            as waste_line_key,
        wasted.waste_id,
        wasted.store_code,
        wasted.waste_date,
        wasted.waste_reason,
        wasted.ingredient_code,
        ingredients.unit,
        wasted.product_sku,
        cast(wasted.product_quantity as decimal(18, 3)) as product_quantity,
        cast(wasted.wasted_quantity as decimal(18, 3)) as wasted_quantity,
        cast(backups.unit_cost as decimal(18, 2)) as unit_cost,
        cast(wasted.wasted_quantity * backups.unit_cost as decimal(18, 2)) as waste_cost,
        backups.currency,
        wasted.recorded_at,
        wasted.file_path

    from wasted
    left join ingredients
        on wasted.ingredient_code = ingredients.ingredient_code
    left join backups
        on
            wasted.store_code = backups.store_code
            and wasted.ingredient_code = backups.ingredient_code
            and wasted.waste_date = backups.backup_date

)

select * from final
