with

source as (

    select * from {{ source('pos', 'orders') }}

),

renamed as (

    select
        -- ids
        order_id,
        store_id,
        customer_id,
        '{{ var("pos_source_system") }}' as source_system,

        -- strings
        channel as order_channel,
        status as order_status,

        -- dates
        business_date,

        -- timestamps
        {{ as_utc_timestamp('ordered_at') }} as ordered_at,
        {{ as_utc_timestamp('completed_at') }} as completed_at,
        {{ as_utc_timestamp('updated_at') }} as updated_at,

        -- the dlt load that last wrote the row
        _dlt_load_id

    from source

)

select * from renamed
