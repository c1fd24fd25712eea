with

source as (

    select * from {{ source('pos', 'stores') }}

),

renamed as (

    select
        -- ids
        store_id,
        '{{ var("pos_source_system") }}' as source_system,

        -- strings
        store_code,
        name as store_name,
        city,
        timezone,

        -- numerics
        seats,

        -- dates
        opened_on as opened_date,

        -- timestamps
        {{ as_utc_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
