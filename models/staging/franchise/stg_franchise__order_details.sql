with

source as (

    select * from {{ source('franchise', 'order_details') }}

),

renamed as (

    select
        -- ids
        store_code,
        order_details_id as order_item_id,
        order_id,
        pizza_id,
        '{{ var("franchise_source_system") }}' as source_system,

        -- numerics
        quantity,

        -- lineage: the export file and line, the dlt load that last wrote the row
        {{ franchise_file_lineage() }}

    from source

)

select * from renamed
