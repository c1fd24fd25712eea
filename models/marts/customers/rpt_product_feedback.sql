with

review_products as (

    select * from {{ ref('fct_review_products') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

product_reviews as (

    select
        product_key,
        count(*) as reviews,
        avg(rating) as average_rating,
        avg(sentiment_score) as average_sentiment_score,
        sum(case when sentiment_label = 'positive' then 1 else 0 end) as positive_reviews,
        sum(case when sentiment_label = 'negative' then 1 else 0 end) as negative_reviews,
        sum(case when is_low_rating then 1 else 0 end) as low_rating_reviews

    from review_products
    group by product_key

),

-- only products with enough reviews are ranked; ties go to the more reviewed product
ranked as (

    select
        product_key,
        row_number() over (
            order by average_sentiment_score desc, reviews desc, product_key asc
        ) as praise_rank,
        row_number() over (
            order by average_sentiment_score asc, reviews desc, product_key asc
        ) as criticism_rank

    from product_reviews
    where reviews >= {{ var('product_feedback_min_reviews') }}

),

final as (

    select
        product_reviews.product_key,
        products.sku,
        products.product_name,
        products.category,
        products.size,
        cast(product_reviews.reviews as {{ dbt.type_bigint() }}) as reviews,
        cast(product_reviews.average_rating as decimal(18, 2)) as average_rating,
        cast(
            product_reviews.average_sentiment_score as decimal(18, 2)
        ) as average_sentiment_score,
        cast(product_reviews.positive_reviews as {{ dbt.type_bigint() }}) as positive_reviews,
        cast(product_reviews.negative_reviews as {{ dbt.type_bigint() }}) as negative_reviews,
        cast(product_reviews.low_rating_reviews as {{ dbt.type_bigint() }}) as low_rating_reviews,
        cast(ranked.praise_rank as {{ dbt.type_bigint() }}) as praise_rank,
        cast(ranked.criticism_rank as {{ dbt.type_bigint() }}) as criticism_rank

    from product_reviews
    left join products
        on product_reviews.product_key = products.product_key
    left join ranked
        on product_reviews.product_key = ranked.product_key

)

select * from final
