with

reviews as (

    select * from {{ ref('fct_reviews') }}

),

complaints as (

    select * from {{ ref('int_complaints_counted') }}

),

mentions as (

    select * from {{ ref('stg_feedback__mentions') }}

),

texts_scored as (

    select * from {{ ref('int_feedback_texts_scored') }}

),

-- weeks start on Monday (ISO), as in dim_dates; a review counts in the week it was posted
reviews_weekly as (

    select
        store_code,
        cast({{ dbt.date_trunc('week', 'review_date') }} as date) as week_start_date,
        rating,
        is_low_rating,
        has_reply,
        seconds_to_first_reply,
        -- in hundredths, so averages are worked in integers (ratio_2dp)
        cast(sentiment_score * 100 as {{ dbt.type_bigint() }}) as sentiment_score_100

    from reviews

),

mentions_weekly as (

    select
        mentions.store_code,
        cast(
            {{ dbt.date_trunc('week', dbt.cast('mentions.posted_at', 'date')) }} as date
        ) as week_start_date,
        mentions.like_count,
        texts_scored.text_score

    from mentions
    left join texts_scored
        on
            texts_scored.document_type = 'mention'
            and mentions.mention_id = texts_scored.document_id

),

review_weeks as (

    select
        store_code,
        week_start_date,
        count(*) as reviews,
        sum(rating) as rating_sum,
        sum(case when is_low_rating then 1 else 0 end) as low_rating_reviews,
        sum(case when has_reply then 1 else 0 end) as replied_reviews,
        sum(seconds_to_first_reply) as reply_seconds_sum,
        sum(sentiment_score_100) as sentiment_score_100_sum

    from reviews_weekly
    group by store_code, week_start_date

),

-- the complaint counts of rpt_complaint_tags_weekly: reviews per tag, each counted once
complaint_counts as (

    select
        store_code,
        week_start_date,
        tag,
        complaint_reviews as tag_reviews

    from complaints

),

complaints_ranked as (

    select
        store_code,
        week_start_date,
        tag,
        tag_reviews,
        row_number() over (
            partition by store_code, week_start_date
            order by tag_reviews desc, tag asc
        ) as complaint_rank

    from complaint_counts

),

complaint_weeks as (

    select
        store_code,
        week_start_date,
        sum(tag_reviews) as complaints,
        max(case when complaint_rank = 1 then tag end) as top_complaint_tag,
        {{ dbt.listagg(
            "case when complaint_rank <= 3 then "
            ~ dbt.concat(['tag', "' ('", dbt.cast('tag_reviews', dbt.type_string()), "')'"])
            ~ " end",
            "', '",
            'order by complaint_rank'
        ) }} as top_complaint_tags

    from complaints_ranked
    group by store_code, week_start_date

),

mention_weeks as (

    select
        store_code,
        week_start_date,
        count(*) as mentions,
        sum(like_count) as mention_likes,
        sum(case when text_score <= -0.25 then 1 else 0 end) as negative_mentions

    from mentions_weekly
    group by store_code, week_start_date

),

store_weeks as (

    select
        store_code,
        week_start_date

    from review_weeks

    union

    select
        store_code,
        week_start_date

    from mention_weeks

),

final as (

    select
        store_weeks.store_code,
        store_weeks.week_start_date,
        cast(coalesce(review_weeks.reviews, 0) as {{ dbt.type_bigint() }}) as reviews,
        {{ ratio_2dp('review_weeks.rating_sum', 'review_weeks.reviews') }} as average_rating,
        cast(
            coalesce(review_weeks.low_rating_reviews, 0) as {{ dbt.type_bigint() }}
        ) as low_rating_reviews,
        {{ ratio_2dp('100 * review_weeks.low_rating_reviews', 'review_weeks.reviews') }}
            as low_rating_share_pct,
        cast(
            coalesce(review_weeks.replied_reviews, 0) as {{ dbt.type_bigint() }}
        ) as replied_reviews,
        {{ ratio_2dp('100 * review_weeks.replied_reviews', 'review_weeks.reviews') }}
            as response_rate_pct,
        {{ ratio_2dp('review_weeks.reply_seconds_sum', '3600 * review_weeks.replied_reviews') }}
            as average_hours_to_first_reply,
        {{ ratio_2dp('review_weeks.sentiment_score_100_sum', '100 * review_weeks.reviews') }}
            as average_sentiment_score,
        cast(coalesce(complaint_weeks.complaints, 0) as {{ dbt.type_bigint() }}) as complaints,
        complaint_weeks.top_complaint_tag,
        complaint_weeks.top_complaint_tags,
        cast(coalesce(mention_weeks.mentions, 0) as {{ dbt.type_bigint() }}) as mentions,
        cast(
            coalesce(mention_weeks.negative_mentions, 0) as {{ dbt.type_bigint() }}
        ) as negative_mentions,
        cast(coalesce(mention_weeks.mention_likes, 0) as {{ dbt.type_bigint() }}) as mention_likes

    from store_weeks
    left join review_weeks
        on
            store_weeks.store_code = review_weeks.store_code
            and store_weeks.week_start_date = review_weeks.week_start_date
    left join complaint_weeks
        on
            store_weeks.store_code = complaint_weeks.store_code
            and store_weeks.week_start_date = complaint_weeks.week_start_date
    left join mention_weeks
        on
            store_weeks.store_code = mention_weeks.store_code
            and store_weeks.week_start_date = mention_weeks.week_start_date

)

select * from final
