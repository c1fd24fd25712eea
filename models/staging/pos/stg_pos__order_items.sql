with

source as (

    select * from {{ source('pos', 'order_items') }}

),

quarantined as (

    select order_item_id from {{ ref('quarantine_pos__order_items') }}

),

renamed as (

    select
        -- ids
        order_item_id,
        order_id,
        product_id,
        '{{ var("pos_source_system") }}' as source_system,

        -- numerics
        quantity,
        unit_price_cents,
        discount_cents,
        {{ cents_to_currency('unit_price_cents') }} as unit_price,
        {{ cents_to_currency('discount_cents') }} as discount,

        -- booleans
        is_voided,

        -- timestamps
        {{ as_utc_timestamp('updated_at') }} as updated_at,

        -- the dlt load that last wrote the row
        _dlt_load_id

    from source
    -- lines that break a rule wait in quarantine (models/quarantine/)
    where order_item_id not in (select quarantined.order_item_id from quarantined)

)

select * from renamed
