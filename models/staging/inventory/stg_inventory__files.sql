with

source as (

    select * from {{ source('inventory', 'files') }}

),

renamed as (

    select
        -- ids
        file_path,

        -- strings
        file_name,
        file_url,
        file_kind,
        status as load_status,
        problem,

        -- numerics
        row_count,
        size_in_bytes,

        -- booleans
        status = 'quarantined' as is_quarantined,

        -- timestamps
        {{ as_utc_timestamp('file_modified_at') }} as file_modified_at

    from source

)

select * from renamed
