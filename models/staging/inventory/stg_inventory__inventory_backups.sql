with

source as (

    select * from {{ source('inventory', 'inventory_backups') }}

),

renamed as (

    select
        -- ids
        store_code,
        ingredient_code,
        supplier_code,

        -- strings
        unit,
        currency,

        -- dates
        backup_date,
        last_counted_date,

        -- numerics
        cast(on_hand_quantity as decimal(18, 3)) as on_hand_quantity,
        cast(reorder_point as decimal(18, 3)) as reorder_point,
        cast(par_level as decimal(18, 3)) as par_level,
        unit_cost_cents,
        {{ cents_to_currency('unit_cost_cents') }} as unit_cost,

        -- timestamps
        {{ as_utc_timestamp('exported_at') }} as exported_at,

        -- lineage
        file_path,
        file_row_number,
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at

    from source

)

select * from renamed
