with

reviews as (

    select * from {{ ref('int_reviews_summarised') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

-- an online review names its POS order: the order's key, made as the sales marts make it
{%- set pos_system = "'" ~ var('pos_source_system') ~ "'" %}
reviews_keyed as (

    select
        {{ generate_surrogate_key(['source_system', 'review_id']) }} as review_key,
        case
            when order_id is not null
                then {{ generate_surrogate_key([pos_system, 'order_id']) }}
        end as order_key,
        review_id,
        store_code,
        reviewer_email_hash,
        review_channel,
        language_code,
        review_date,
        created_at,
        edited_at,
        updated_at,
        rating,
        original_rating,
        taste_rating,
        delivery_rating,
        service_rating,
        is_low_rating,
        review_version,
        edit_count,
        is_edited,
        is_verified_buyer,
        review_title,
        review_text,
        tag_count,
        complaint_tag_count,
        product_count,
        reply_count,
        has_reply,
        first_replied_at,
        seconds_to_first_reply,
        hours_to_first_reply,
        star_score,
        text_score,
        sentiment_terms,
        sentiment_score,
        sentiment_label,
        source_system

    from reviews

),

final as (

    select
        reviews_keyed.review_key,
        reviews_keyed.review_id,
        reviews_keyed.store_code,
        reviews_keyed.order_key,
        orders.customer_key,
        reviews_keyed.reviewer_email_hash,
        reviews_keyed.review_channel,
        reviews_keyed.language_code,
        reviews_keyed.review_date,
        reviews_keyed.created_at,
        reviews_keyed.edited_at,
        reviews_keyed.updated_at,
        cast(reviews_keyed.rating as {{ dbt.type_bigint() }}) as rating,
        cast(reviews_keyed.original_rating as {{ dbt.type_bigint() }}) as original_rating,
        cast(reviews_keyed.taste_rating as {{ dbt.type_bigint() }}) as taste_rating,
        cast(reviews_keyed.delivery_rating as {{ dbt.type_bigint() }}) as delivery_rating,
        cast(reviews_keyed.service_rating as {{ dbt.type_bigint() }}) as service_rating,
        reviews_keyed.is_low_rating,
        cast(reviews_keyed.review_version as {{ dbt.type_bigint() }}) as review_version,
        reviews_keyed.edit_count,
        reviews_keyed.is_edited,
        reviews_keyed.is_verified_buyer,
        reviews_keyed.review_title,
        reviews_keyed.review_text,
        reviews_keyed.tag_count,
        reviews_keyed.complaint_tag_count,
        reviews_keyed.product_count,
        reviews_keyed.reply_count,
        reviews_keyed.has_reply,
        reviews_keyed.first_replied_at,
        reviews_keyed.seconds_to_first_reply,
        reviews_keyed.hours_to_first_reply,
        cast(reviews_keyed.star_score as decimal(18, 2)) as star_score,
        cast(reviews_keyed.text_score as decimal(18, 2)) as text_score,
        reviews_keyed.sentiment_terms,
        cast(reviews_keyed.sentiment_score as decimal(18, 2)) as sentiment_score,
        reviews_keyed.sentiment_label,
        reviews_keyed.source_system

    from reviews_keyed
    left join orders
        on reviews_keyed.order_key = orders.order_key

)

select * from final
