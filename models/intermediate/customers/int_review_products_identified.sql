with

review_products as (

    select * from {{ ref('stg_feedback__review_products') }}

),

reviews as (

    select * from {{ ref('stg_feedback__reviews') }}

),

final as (

    select
        reviews.review_id,
        review_products.product_id,
        review_products.product_source_system,
        review_products.product_position,
        reviews.store_code,
        reviews.source_system

    from review_products
    inner join reviews
        on review_products.review_row_id = reviews.review_row_id

)

select * from final
