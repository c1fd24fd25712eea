with

source as (

    select * from {{ source('franchise', 'pizzas') }}

),

renamed as (

    select
        -- ids
        store_code,
        pizza_id,
        pizza_type_id,
        '{{ var("franchise_source_system") }}' as source_system,

        -- strings
        size,

        -- numerics: the export's price is currency; cents as at the other edges
        cast(price * 100 as {{ dbt.type_bigint() }}) as price_cents,
        cast(price as decimal(18, 2)) as price,

        -- lineage: the export file and line, the dlt load that last wrote the row
        {{ franchise_file_lineage() }}

    from source

)

select * from renamed
