with

source as (

    select * from {{ dlt_child_source('feedback', 'reviews__tags', {
        '_dlt_root_id': dbt.type_string(),
        '_dlt_list_idx': dbt.type_bigint(),
        'value': dbt.type_string(),
    }) }}

),

renamed as (

    select
        -- ids
        _dlt_root_id as review_row_id,

        -- strings
        lower(trim(value)) as tag,

        -- numerics
        _dlt_list_idx as tag_position

    from source

)

select * from renamed
