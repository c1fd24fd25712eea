-- PII: names, e-mail and phone are read here and go no further; only a hash of
-- the normalised e-mail leaves this model.
with

source as (

    select * from {{ source('pos', 'customers') }}

),

renamed as (

    select
        -- ids
        customer_id,
        home_store_id,
        '{{ var("pos_source_system") }}' as source_system,

        -- strings
        {{ dbt.hash('lower(trim(email))') }} as email_hash,
        loyalty_tier,

        -- timestamps
        {{ as_utc_timestamp('signed_up_at') }} as signed_up_at,
        {{ as_utc_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
