-- How often each complaint was tagged per store and week (a review counts in the week it
-- was posted, weeks start on Monday): the top complaints over any range of weeks. The
-- counting is int_complaints_counted's, shared with rpt_store_satisfaction_weekly.
with

complaints as (

    select * from {{ ref('int_complaints_counted') }}

),

final as (

    select
        store_code,
        week_start_date,
        tag,
        tag_label,
        aspect,
        complaint_reviews

    from complaints

)

select * from final
