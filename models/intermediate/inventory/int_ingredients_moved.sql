-- What moved each ingredient of each store on each day something did: deliveries (and
-- their cost), the sales' use by the recipes, waste, and the end-of-day count. Days
-- without any of them have no row (fct_inventory_daily lays the calendar under them).
with

consumed as (

    select * from {{ ref('int_ingredients_consumed') }}

),

wasted as (

    select * from {{ ref('int_ingredients_wasted') }}

),

deliveries as (

    select * from {{ ref('stg_inventory__deliveries') }}

),

stock_counts as (

    select * from {{ ref('stg_inventory__stock_counts') }}

),

daily_deliveries as (

    select
        store_code,
        ingredient_code,
        delivery_date as inventory_date,
        sum(delivered_quantity) as delivered_quantity,
        sum(line_cost) as delivered_cost

    from deliveries
    group by store_code, ingredient_code, delivery_date

),

daily_waste as (

    select
        store_code,
        ingredient_code,
        waste_date as inventory_date,
        sum(wasted_quantity) as wasted_quantity

    from wasted
    group by store_code, ingredient_code, waste_date

),

events as (

    select
        store_code,
        ingredient_code,
        inventory_date
    from daily_deliveries

    union

    select
        store_code,
        ingredient_code,
        inventory_date
    from daily_waste

    union

    select
        store_code,
        ingredient_code,
        sales_date as inventory_date
    from consumed

    union

    select
        store_code,
        ingredient_code,
        count_date as inventory_date
    from stock_counts

),

final as (

    select
        events.store_code,
        events.ingredient_code,
        events.inventory_date,
        coalesce(daily_deliveries.delivered_quantity, 0) as delivered_quantity,
        coalesce(daily_deliveries.delivered_cost, 0) as delivered_cost,
        coalesce(consumed.used_quantity, 0) as used_quantity,
        coalesce(daily_waste.wasted_quantity, 0) as wasted_quantity,
        stock_counts.counted_quantity,
        stock_counts.counted_quantity is not null as is_counted

    from events
    left join daily_deliveries
        on
            events.store_code = daily_deliveries.store_code
            and events.ingredient_code = daily_deliveries.ingredient_code
            and events.inventory_date = daily_deliveries.inventory_date
    left join consumed
        on
            events.store_code = consumed.store_code
            and events.ingredient_code = consumed.ingredient_code
            and events.inventory_date = consumed.sales_date
    left join daily_waste
        on
            events.store_code = daily_waste.store_code
            and events.ingredient_code = daily_waste.ingredient_code
            and events.inventory_date = daily_waste.inventory_date
    left join stock_counts
        on
            events.store_code = stock_counts.store_code
            and events.ingredient_code = stock_counts.ingredient_code
            and events.inventory_date = stock_counts.count_date

)

select * from final
