-- PII: the reviewer's name and e-mail are read here and go no further; only a hash of
-- the normalised e-mail (the same hash as the POS customers' email_hash) leaves this model.
with

source as (

    select * from {{ source('feedback', 'reviews') }}

),

renamed as (

    select
        -- ids
        id as review_id,
        _dlt_id as review_row_id,
        order_id,
        '{{ var("feedback_source_system") }}' as source_system,

        -- strings
        store_code,
        channel as review_channel,
        language as language_code,
        title as review_title,
        text as review_text,
        {{ dbt.hash('lower(trim(reviewer__email))') }} as reviewer_email_hash,

        -- numerics
        rating,
        aspects__taste as taste_rating,
        aspects__delivery as delivery_rating,
        aspects__service as service_rating,
        version as review_version,

        -- booleans
        reviewer__verified_buyer as is_verified_buyer,

        -- timestamps
        {{ as_utc_timestamp('created_at') }} as created_at,
        {{ as_utc_timestamp('edited_at') }} as edited_at,
        {{ as_utc_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
