with

source as (

    select * from {{ source('iot', 'quarantined_messages') }}

),

renamed as (

    select
        -- ids
        message_hash,

        -- strings
        topic,
        payload,
        reason as quarantine_reason,
        {{ dbt.split_part('topic', "'/'", 2) }} as store_code,
        {{ dbt.split_part('topic', "'/'", 3) }} as device_id,

        -- timestamps
        {{ as_utc_timestamp('received_at') }} as received_at

    from source

)

select * from renamed
