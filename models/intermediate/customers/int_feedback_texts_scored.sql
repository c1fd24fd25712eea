-- The text half of the sentiment score (see the sentiment_score docs): every lexicon term
-- of the text's language (and every emoji) found in the lower-cased text counts once.
with

reviews as (

    select * from {{ ref('stg_feedback__reviews') }}

),

mentions as (

    select * from {{ ref('stg_feedback__mentions') }}

),

lexicon as (

    select * from {{ ref('feedback_sentiment_lexicon') }}

),

texts as (

    select
        'review' as document_type,
        review_id as document_id,
        language_code,
        lower({{ dbt.concat([
            "coalesce(review_title, '')", "' '", "coalesce(review_text, '')"
        ]) }}) as lowered_text

    from reviews

    union all

    select
        'mention' as document_type,
        mention_id as document_id,
        language_code,
        lower(coalesce(mention_text, '')) as lowered_text

    from mentions

),

matches as (

    select
        texts.document_type,
        texts.document_id,
        lexicon.term,
        lexicon.weight

    from texts
    inner join lexicon
        on
            (texts.language_code = lexicon.language_code or lexicon.language_code = 'any')
            and texts.lowered_text like {{ dbt.concat(["'%'", 'lexicon.term', "'%'"]) }}

),

matched as (

    select
        document_type,
        document_id,
        count(*) as matched_terms,
        sum(weight) as lexicon_weight,
        {{ dbt.listagg(
            dbt.concat(['term', "' ('", dbt.cast('weight', dbt.type_string()), "')'"]),
            "', '",
            'order by term'
        ) }} as sentiment_terms

    from matches
    group by document_type, document_id

),

final as (

    select
        texts.document_type,
        texts.document_id,
        texts.language_code,
        cast(coalesce(matched.matched_terms, 0) as {{ dbt.type_bigint() }}) as matched_terms,
        cast(coalesce(matched.lexicon_weight, 0) as {{ dbt.type_bigint() }}) as lexicon_weight,
        matched.sentiment_terms,
        -- the summed weights, capped at -4 and 4, divided by 4; null without a match
        case
            when matched.matched_terms is null then null
            when matched.lexicon_weight >= 4 then cast(1 as decimal(18, 4))
            when matched.lexicon_weight <= -4 then cast(-1 as decimal(18, 4))
            else cast(matched.lexicon_weight * 0.25 as decimal(18, 4))
        end as text_score

    from texts
    left join matched
        on
            texts.document_type = matched.document_type
            and texts.document_id = matched.document_id

)

select * from final
