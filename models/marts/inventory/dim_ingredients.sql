with

ingredients as (

    select * from {{ ref('ingredients') }}

),

final as (

    select
        ingredient_code,
        ingredient_name,
        category,
        unit,
        recipe_unit,
        supplier_code,
        supplier_name,
        cast(pack_size as decimal(18, 3)) as pack_size,
        cast(shelf_life_days as {{ dbt.type_bigint() }}) as shelf_life_days

    from ingredients

)

select * from final
