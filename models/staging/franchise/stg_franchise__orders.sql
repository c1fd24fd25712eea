with

source as (

    select * from {{ source('franchise', 'orders') }}

),

renamed as (

    select
        -- ids
        store_code,
        order_id,
        '{{ var("franchise_source_system") }}' as source_system,

        -- dates
        {{ adapter.quote('date') }} as order_date,

        -- timestamps: the store's wall-clock time, no time zone (UTC once the store is known)
        {%- set local_day = dbt.cast(adapter.quote('date'), dbt.type_string()) %}
        cast(
            {{ dbt.concat([local_day, "' '", adapter.quote('time')]) }}
            as {{ dbt.type_timestamp() }}
        ) as ordered_at_local,

        -- lineage: the export file and line, the dlt load that last wrote the row
        {{ franchise_file_lineage() }}

    from source

)

select * from renamed
