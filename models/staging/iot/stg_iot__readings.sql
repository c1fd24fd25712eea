with

source as (

    select * from {{ source('iot', 'readings') }}

),

renamed as (

    select
        -- ids
        {{ generate_surrogate_key(['device_id', 'boot', 'seq']) }} as reading_key,
        device_id,
        store_code,

        -- strings
        kind as device_kind,

        -- numerics
        cast(boot as {{ dbt.type_bigint() }}) as boot_number,
        cast(seq as {{ dbt.type_bigint() }}) as sequence_number,
        cast(temperature_c as decimal(9, 2)) as temperature_c,
        cast(power_w as {{ dbt.type_bigint() }}) as power_w,
        cast(pizzas_baked as {{ dbt.type_bigint() }}) as pizzas_baked,

        -- booleans
        door_open as is_door_open,

        -- timestamps
        {{ as_utc_timestamp('device_ts') }} as reading_at

    from source

)

select * from renamed
