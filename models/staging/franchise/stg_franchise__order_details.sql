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

        -- lineage
        file_name,
        file_line_number,
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at,

        -- the dlt load that last wrote the row
        _dlt_load_id

    from source

)

select * from renamed
