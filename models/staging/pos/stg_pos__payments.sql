with

source as (

    select * from {{ source('pos', 'payments') }}

),

renamed as (

    select
        -- ids
        payment_id,
        order_id,
        '{{ var("pos_source_system") }}' as source_system,

        -- strings
        method as payment_method,
        kind as payment_kind,

        -- numerics
        amount_cents,
        {{ cents_to_currency('amount_cents') }} as amount,

        -- timestamps
        {{ as_utc_timestamp('paid_at') }} as paid_at,
        {{ as_utc_timestamp('updated_at') }} as updated_at,

        -- the dlt load that last wrote the row
        _dlt_load_id

    from source

)

select * from renamed
