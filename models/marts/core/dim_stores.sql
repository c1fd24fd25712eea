with

stores_master as (

    select * from {{ ref('stores') }}

),

pos_stores as (

    select * from {{ ref('stg_pos__stores') }}

),

-- a store the POS knows but the store master does not yet is kept, with what the POS says
final as (

    select
        coalesce(stores_master.store_code, pos_stores.store_code) as store_code,
        coalesce(stores_master.store_name, pos_stores.store_name) as store_name,
        coalesce(stores_master.city, pos_stores.city) as city,
        stores_master.region,
        stores_master.country,
        coalesce(stores_master.timezone, pos_stores.timezone) as timezone,
        stores_master.currency,
        coalesce(stores_master.opened_date, pos_stores.opened_date) as opened_date,
        cast(coalesce(stores_master.seats, pos_stores.seats) as {{ dbt.type_bigint() }}) as seats,
        coalesce(stores_master.source_system, pos_stores.source_system) as source_system,
        pos_stores.store_id as pos_store_id,
        stores_master.store_code is not null as is_in_store_master

    from stores_master
    full outer join pos_stores
        on
            stores_master.store_code = pos_stores.store_code
            and stores_master.source_system = pos_stores.source_system

)

select * from final
