with

source as (

    select * from {{ source('inventory', 'stock_counts') }}

),

renamed as (

    select
        -- ids
        store_code,
        ingredient_code,

        -- strings
        unit,

        -- dates
        count_date,

        -- numerics
        cast(counted_quantity as decimal(18, 3)) as counted_quantity,

        -- timestamps
        {{ as_utc_timestamp('counted_at') }} as counted_at,

        -- lineage
        file_path,
        file_row_number,
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at

    from source

)

select * from renamed
