{#- the stars half of the sentiment score: 1 star is -1, 3 stars 0, 5 stars 1 -#}
{%- set star_score = 'cast((reviews.rating - 3) * 0.5 as decimal(18, 4))' -%}

with

reviews as (

    select * from {{ ref('stg_feedback__reviews') }}

),

replies as (

    select * from {{ ref('stg_feedback__review_replies') }}

),

edits as (

    select * from {{ ref('stg_feedback__review_edits') }}

),

review_tags as (

    select * from {{ ref('int_review_tags_classified') }}

),

review_products as (

    select * from {{ ref('int_review_products_identified') }}

),

texts_scored as (

    select * from {{ ref('int_feedback_texts_scored') }}

),

review_replies as (

    select
        review_row_id,
        count(*) as reply_count,
        min(replied_at) as first_replied_at

    from replies
    group by review_row_id

),

review_edits as (

    select
        review_row_id,
        count(*) as edit_count,
        -- the rating of version 1: the review as first published
        max(case when review_version = 1 then rating end) as original_rating

    from edits
    group by review_row_id

),

tag_counts as (

    select
        review_id,
        count(*) as tag_count,
        sum(case when is_complaint then 1 else 0 end) as complaint_tag_count

    from review_tags
    group by review_id

),

product_counts as (

    select
        review_id,
        count(*) as product_count

    from review_products
    group by review_id

),

joined as (

    select
        reviews.review_id,
        reviews.order_id,
        reviews.source_system,
        reviews.store_code,
        reviews.review_channel,
        reviews.language_code,
        reviews.review_title,
        reviews.review_text,
        reviews.reviewer_email_hash,
        reviews.rating,
        coalesce(review_edits.original_rating, reviews.rating) as original_rating,
        reviews.taste_rating,
        reviews.delivery_rating,
        reviews.service_rating,
        reviews.review_version,
        reviews.is_verified_buyer,
        reviews.created_at,
        reviews.edited_at,
        reviews.updated_at,
        cast(reviews.created_at as date) as review_date,
        cast(coalesce(review_edits.edit_count, 0) as {{ dbt.type_bigint() }}) as edit_count,
        cast(coalesce(review_replies.reply_count, 0) as {{ dbt.type_bigint() }}) as reply_count,
        review_replies.first_replied_at,
        cast(
            {{ dbt.datediff(
                'reviews.created_at', 'review_replies.first_replied_at', 'second'
            ) | trim }} as {{ dbt.type_bigint() }}
        ) as seconds_to_first_reply,
        cast(coalesce(tag_counts.tag_count, 0) as {{ dbt.type_bigint() }}) as tag_count,
        cast(
            coalesce(tag_counts.complaint_tag_count, 0) as {{ dbt.type_bigint() }}
        ) as complaint_tag_count,
        cast(
            coalesce(product_counts.product_count, 0) as {{ dbt.type_bigint() }}
        ) as product_count,
        coalesce(texts_scored.matched_terms, 0) as matched_terms,
        texts_scored.sentiment_terms,
        texts_scored.text_score,
        {{ star_score }} as star_score,
        -- stars and words weigh half each; stars alone when no lexicon term matched
        cast(
            case
                when texts_scored.text_score is null then {{ star_score }}
                else 0.5 * {{ star_score }} + 0.5 * texts_scored.text_score
            end as decimal(18, 4)
        ) as sentiment_score

    from reviews
    left join review_replies
        on reviews.review_row_id = review_replies.review_row_id
    left join review_edits
        on reviews.review_row_id = review_edits.review_row_id
    left join tag_counts
        on reviews.review_id = tag_counts.review_id
    left join product_counts
        on reviews.review_id = product_counts.review_id
    left join texts_scored
        on
            texts_scored.document_type = 'review'
            and reviews.review_id = texts_scored.document_id

),

final as (

    select
        review_id,
        order_id,
        source_system,
        store_code,
        review_channel,
        language_code,
        review_title,
        review_text,
        reviewer_email_hash,
        rating,
        original_rating,
        taste_rating,
        delivery_rating,
        service_rating,
        rating <= 2 as is_low_rating,
        review_version,
        edit_count,
        edit_count > 0 as is_edited,
        is_verified_buyer,
        review_date,
        created_at,
        edited_at,
        updated_at,
        reply_count,
        reply_count > 0 as has_reply,
        first_replied_at,
        seconds_to_first_reply,
        {{ ratio_2dp('seconds_to_first_reply', '3600') }} as hours_to_first_reply,
        tag_count,
        complaint_tag_count,
        product_count,
        matched_terms,
        sentiment_terms,
        star_score,
        text_score,
        sentiment_score,
        case
            when sentiment_score >= 0.25 then 'positive'
            when sentiment_score <= -0.25 then 'negative'
            else 'neutral'
        end as sentiment_label

    from joined

)

select * from final
