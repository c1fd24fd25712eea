with

source as (

    select * from {{ dlt_child_source('feedback', 'reviews__product_ids', {
        '_dlt_root_id': dbt.type_string(),
        '_dlt_list_idx': dbt.type_bigint(),
        'value': dbt.type_bigint(),
    }) }}

),

renamed as (

    select
        -- ids
        _dlt_root_id as review_row_id,
        value as product_id,
        '{{ var("pos_source_system") }}' as product_source_system,

        -- numerics
        _dlt_list_idx as product_position

    from source

)

select * from renamed
