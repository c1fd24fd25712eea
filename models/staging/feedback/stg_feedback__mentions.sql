-- PII: the author's handle, display name and the post's address (which holds the handle)
-- are read here and go no further; only a hash of the handle leaves this model.
with

source as (

    select * from {{ source('feedback', 'mentions') }}

),

renamed as (

    select
        -- ids
        id as mention_id,
        '{{ var("feedback_source_system") }}' as source_system,

        -- strings
        store_code,
        platform,
        language as language_code,
        text as mention_text,
        {{ dbt.hash('lower(trim(author__handle))') }} as author_handle_hash,

        -- numerics
        author__followers as author_followers,
        engagement__likes as like_count,
        engagement__shares as share_count,
        engagement__comments as comment_count,

        -- timestamps
        {{ as_utc_timestamp('posted_at') }} as posted_at,
        {{ as_utc_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
