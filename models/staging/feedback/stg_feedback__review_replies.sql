with

source as (

    select * from {{ dlt_child_source('feedback', 'reviews__replies', {
        'id': dbt.type_string(),
        '_dlt_root_id': dbt.type_string(),
        '_dlt_list_idx': dbt.type_bigint(),
        'author_role': dbt.type_string(),
        'text': dbt.type_string(),
        'replied_at': dbt.type_timestamp(),
    }) }}

),

renamed as (

    select
        -- ids
        id as reply_id,
        _dlt_root_id as review_row_id,

        -- strings
        author_role,
        text as reply_text,

        -- numerics
        _dlt_list_idx as reply_position,

        -- timestamps
        {{ as_utc_timestamp('replied_at') }} as replied_at

    from source

)

select * from renamed
