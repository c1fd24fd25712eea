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
        sum(rating) as rating_sum,
        -- in hundredths, so the average is worked in integers (ratio_2dp)
        sum(cast(sentiment_score * 100 as {{ dbt.type_bigint() }})) as sentiment_score_100_sum,
        sum(case when sentiment_label = 'positive' then 1 else 0 end) as positive_reviews,
        sum(case when sentiment_label = 'negative' then 1 else 0 end) as negative_reviews,
        sum(case when is_low_rating then 1 else 0 end) as low_rating_reviews

    from review_products
    group by product_key

),

averaged as (

    select
        product_key,
        reviews,
        positive_reviews,
        negative_reviews,
        low_rating_reviews,
        {{ ratio_2dp('rating_sum', 'reviews') }} as average_rating,
        {{ ratio_2dp('sentiment_score_100_sum', '100 * reviews') }} as average_sentiment_score

    from product_reviews

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

    from averaged
    where reviews >= {{ var('product_feedback_min_reviews') }}

),

final as (

    select
        averaged.product_key,
        products.sku,
        products.product_name,
        products.category,
        products.size,
        cast(averaged.reviews as {{ dbt.type_bigint() }}) as reviews,
        averaged.average_rating,
        averaged.average_sentiment_score,
        cast(averaged.positive_reviews as {{ dbt.type_bigint() }}) as positive_reviews,
        cast(averaged.negative_reviews as {{ dbt.type_bigint() }}) as negative_reviews,
        cast(averaged.low_rating_reviews as {{ dbt.type_bigint() }}) as low_rating_reviews,
        cast(ranked.praise_rank as {{ dbt.type_bigint() }}) as praise_rank,
        cast(ranked.criticism_rank as {{ dbt.type_bigint() }}) as criticism_rank

    from averaged
    left join products
        on averaged.product_key = products.product_key
    left join ranked
        on averaged.product_key = ranked.product_key

)

select * from final
