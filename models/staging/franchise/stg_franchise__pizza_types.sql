with

source as (

    select * from {{ source('franchise', 'pizza_types') }}

),

renamed as (

    select
        -- ids
        store_code,
        pizza_type_id,
        '{{ var("franchise_source_system") }}' as source_system,

        -- strings
        name as pizza_type_name,
        category as franchise_category,
        ingredients,

        -- lineage
        file_name,
        file_line_number,
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at

    from source

)

select * from renamed
