with

source as (

    select * from {{ source('pos', 'products') }}

),

renamed as (

    select
        -- ids
        product_id,
        '{{ var("pos_source_system") }}' as source_system,

        -- strings
        sku,
        name as product_name,
        category,
        size,

        -- numerics
        price_cents,
        {{ cents_to_currency('price_cents') }} as price,

        -- booleans
        is_active,

        -- timestamps
        {{ as_utc_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
