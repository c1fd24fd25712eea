with

source as (

    select * from {{ source('inventory', 'deliveries') }}

),

renamed as (

    select
        -- ids
        delivery_id,
        line_number,
        store_code,
        supplier_code,
        ingredient_code,

        -- strings
        unit,
        currency,

        -- dates
        delivery_date,

        -- numerics
        cast(quantity as decimal(18, 3)) as delivered_quantity,
        unit_cost_cents,
        {{ cents_to_currency('unit_cost_cents') }} as unit_cost,
        {{ cents_to_currency('quantity * unit_cost_cents') }} as line_cost,

        -- booleans
        supplier_code = '{{ var("inventory_emergency_supplier") }}' as is_emergency_purchase,

        -- timestamps
        {{ as_utc_timestamp('received_at') }} as received_at,

        -- lineage
        file_path,
        file_row_number,
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at

    from source

)

select * from renamed
