with

reviews as (

    select * from {{ ref('fct_reviews') }}

),

review_products as (

    select * from {{ ref('int_review_products_identified') }}

),

final as (

    select
        reviews.review_key,
        {{ generate_surrogate_key([
            'review_products.product_source_system', 'review_products.product_id'
        ]) }} as product_key,
        reviews.store_code,
        reviews.review_date,
        reviews.rating,
        reviews.is_low_rating,
        reviews.sentiment_score,
        reviews.sentiment_label,
        reviews.source_system

    from review_products
    inner join reviews
        on review_products.review_id = reviews.review_id

)

select * from final
