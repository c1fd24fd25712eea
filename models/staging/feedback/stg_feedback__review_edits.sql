with

source as (

    select * from {{ dlt_child_source('feedback', 'reviews__edit_history', {
        '_dlt_root_id': dbt.type_string(),
        'version': dbt.type_bigint(),
        'rating': dbt.type_bigint(),
        'title': dbt.type_string(),
        'text': dbt.type_string(),
        'written_at': dbt.type_timestamp(),
        'replaced_at': dbt.type_timestamp(),
    }) }}

),

renamed as (

    select
        -- ids
        _dlt_root_id as review_row_id,

        -- strings
        title as review_title,
        text as review_text,

        -- numerics
        version as review_version,
        rating,

        -- timestamps
        {{ as_utc_timestamp('written_at') }} as valid_from,
        {{ as_utc_timestamp('replaced_at') }} as valid_to

    from source

)

select * from renamed
