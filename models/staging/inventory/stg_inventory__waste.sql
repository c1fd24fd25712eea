with

source as (

    select * from {{ source('inventory', 'waste') }}

),

renamed as (

    select
        -- ids
        waste_id,
        store_code,
        ingredient_code,
        product_sku,

        -- strings
        unit,
        reason as waste_reason,

        -- dates
        waste_date,

        -- numerics
        cast(quantity as decimal(18, 3)) as waste_quantity,

        -- booleans
        product_sku is not null as is_product,

        -- timestamps
        {{ as_utc_timestamp('recorded_at') }} as recorded_at,

        -- lineage
        file_path,
        file_row_number,
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at

    from source

)

select * from renamed
