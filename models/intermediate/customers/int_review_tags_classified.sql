with

review_tags as (

    select * from {{ ref('stg_feedback__review_tags') }}

),

reviews as (

    select * from {{ ref('stg_feedback__reviews') }}

),

tags as (

    select * from {{ ref('feedback_tags') }}

),

-- a tag missing from the feedback_tags seed is kept, as neither complaint nor praise
final as (

    select
        reviews.review_id,
        review_tags.tag,
        review_tags.tag_position,
        reviews.store_code,
        reviews.source_system,
        cast(reviews.created_at as date) as review_date,
        reviews.rating,
        coalesce(tags.tag_label, review_tags.tag) as tag_label,
        coalesce(tags.aspect, 'other') as aspect,
        coalesce(tags.is_complaint, false) as is_complaint,
        tags.tag is not null as is_known_tag

    from review_tags
    inner join reviews
        on review_tags.review_row_id = reviews.review_row_id
    left join tags
        on review_tags.tag = tags.tag

)

select * from final
