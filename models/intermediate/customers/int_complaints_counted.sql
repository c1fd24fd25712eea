-- The one definition of a complaint count: the reviews tagged with a complaint, per
-- store, week (of the day the review was posted, weeks start on Monday) and tag, each
-- review counted once per tag.
with

review_tags as (

    select * from {{ ref('int_review_tags_classified') }}

),

complaints as (

    select
        store_code,
        cast({{ dbt.date_trunc('week', 'review_date') }} as date) as week_start_date,
        tag,
        tag_label,
        aspect,
        review_id

    from review_tags
    where is_complaint

),

final as (

    select
        store_code,
        week_start_date,
        tag,
        max(tag_label) as tag_label,
        max(aspect) as aspect,
        cast(count(distinct review_id) as {{ dbt.type_bigint() }}) as complaint_reviews

    from complaints
    group by store_code, week_start_date, tag

)

select * from final
