{#-
    The stock of every ingredient in every store, day by day. Opening stock is the last
    count carried forward through what happened since:

        opening(d)  = counted closing of the last count before d
                      + deliveries - use - waste of the days after that count, before d
        expected(d) = opening(d) + delivered(d) - used(d) - wasted(d)

    which is the recursion "opening(d) = counted(d - 1), or expected(d - 1) on a day
    without a count" written with window functions only (no recursive CTE, so it runs on
    Spark too): the cumulative movement up to a day, and an anchor per count (the count
    minus the cumulative movement up to its day) carried forward to the next count.

    Incremental on DuckDB (delete+insert on store, ingredient and day): the running sums
    need the whole history, so every run computes it, but writes only the days within
    `incremental_lookback_days` of the latest day in the table (late deliveries, counts
    and sales land there) and every day of a store and ingredient the table does not hold
    yet (a new store, an ingredient used for the first time, whose spine starts at the
    store's first day). On Spark dbt_project.yml rebuilds it in full, and the strategy
    must not be delete+insert there (dbt-spark refuses it).
-#}
{{
    config(
        materialized='incremental',
        unique_key=['store_code', 'ingredient_code', 'inventory_date'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
    )
}}
with

dates as (

    select * from {{ ref('dim_dates') }}

),

ingredients as (

    select * from {{ ref('ingredients') }}

),

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

    union all

    select
        store_code,
        ingredient_code,
        inventory_date
    from daily_waste

    union all

    select
        store_code,
        ingredient_code,
        sales_date as inventory_date
    from consumed

    union all

    select
        store_code,
        ingredient_code,
        count_date as inventory_date
    from stock_counts

),

-- every ingredient a store has had anything to do with, every day from the store's first
-- day with inventory or sales to the last day of the calendar
store_ingredients as (

    select
        store_code,
        ingredient_code

    from events
    group by store_code, ingredient_code

),

store_first_dates as (

    select
        store_code,
        min(inventory_date) as first_date

    from events
    group by store_code

),

spine as (

    select
        store_ingredients.store_code,
        store_ingredients.ingredient_code,
        dates.date_day as inventory_date

    from store_ingredients
    inner join store_first_dates
        on store_ingredients.store_code = store_first_dates.store_code
    inner join dates
        on store_first_dates.first_date <= dates.date_day

),

movements as (

    select
        spine.store_code,
        spine.ingredient_code,
        spine.inventory_date,
        coalesce(daily_deliveries.delivered_quantity, 0) as delivered_quantity,
        coalesce(daily_deliveries.delivered_cost, 0) as delivered_cost,
        coalesce(consumed.used_quantity, 0) as used_quantity,
        coalesce(daily_waste.wasted_quantity, 0) as wasted_quantity,
        stock_counts.counted_quantity as counted_closing_quantity,
        stock_counts.counted_quantity is not null as is_counted

    from spine
    left join daily_deliveries
        on
            spine.store_code = daily_deliveries.store_code
            and spine.ingredient_code = daily_deliveries.ingredient_code
            and spine.inventory_date = daily_deliveries.inventory_date
    left join consumed
        on
            spine.store_code = consumed.store_code
            and spine.ingredient_code = consumed.ingredient_code
            and spine.inventory_date = consumed.sales_date
    left join daily_waste
        on
            spine.store_code = daily_waste.store_code
            and spine.ingredient_code = daily_waste.ingredient_code
            and spine.inventory_date = daily_waste.inventory_date
    left join stock_counts
        on
            spine.store_code = stock_counts.store_code
            and spine.ingredient_code = stock_counts.ingredient_code
            and spine.inventory_date = stock_counts.count_date

),

running as (

    select
        store_code,
        ingredient_code,
        inventory_date,
        delivered_quantity,
        delivered_cost,
        used_quantity,
        wasted_quantity,
        counted_closing_quantity,
        is_counted,
        delivered_quantity - used_quantity - wasted_quantity as net_movement,
        sum(delivered_quantity - used_quantity - wasted_quantity) over (
            partition by store_code, ingredient_code
            order by inventory_date
            rows between unbounded preceding and current row
        ) as cumulative_movement,
        -- the number of counts up to this day: each count starts a group of days
        count(counted_closing_quantity) over (
            partition by store_code, ingredient_code
            order by inventory_date
            rows between unbounded preceding and current row
        ) as count_group

    from movements

),

anchored as (

    select
        store_code,
        ingredient_code,
        inventory_date,
        delivered_quantity,
        delivered_cost,
        used_quantity,
        wasted_quantity,
        counted_closing_quantity,
        is_counted,
        net_movement,
        cumulative_movement,
        -- the group's count minus the movement up to its day (null before the first count)
        max(
            case when is_counted then counted_closing_quantity - cumulative_movement end
        ) over (partition by store_code, ingredient_code, count_group) as group_anchor

    from running

),

-- the anchor of the last count before the day: on a count day, the previous group's
carried as (

    select
        store_code,
        ingredient_code,
        inventory_date,
        delivered_quantity,
        delivered_cost,
        used_quantity,
        wasted_quantity,
        counted_closing_quantity,
        is_counted,
        net_movement,
        cumulative_movement,
        case
            when is_counted
                then lag(group_anchor) over (
                        partition by store_code, ingredient_code
                        order by inventory_date
                    )
            else group_anchor
        end as opening_anchor

    from anchored

),

changed as (

    select * from carried
    {% if is_incremental() -%}
        where
            {{ incremental_lookback_filter(
                'carried', 'inventory_date', ['store_code', 'ingredient_code']
            ) }}
    {%- endif %}

),

final as (

    select
        changed.store_code,
        changed.ingredient_code,
        changed.inventory_date,
        ingredients.unit,
        cast(
            changed.opening_anchor + changed.cumulative_movement - changed.net_movement
            as decimal(18, 3)
        ) as opening_quantity,
        cast(changed.delivered_quantity as decimal(18, 3)) as delivered_quantity,
        cast(changed.used_quantity as decimal(18, 3)) as used_quantity,
        cast(changed.wasted_quantity as decimal(18, 3)) as wasted_quantity,
        cast(
            changed.opening_anchor + changed.cumulative_movement as decimal(18, 3)
        ) as expected_closing_quantity,
        cast(changed.counted_closing_quantity as decimal(18, 3)) as counted_closing_quantity,
        cast(
            changed.counted_closing_quantity
            - (changed.opening_anchor + changed.cumulative_movement)
            as decimal(18, 3)
        ) as variance_quantity,
        cast(
            coalesce(
                changed.counted_closing_quantity,
                changed.opening_anchor + changed.cumulative_movement
            ) as decimal(18, 3)
        ) as closing_quantity,
        changed.is_counted,
        cast(changed.delivered_cost as decimal(18, 2)) as delivered_cost

    from changed
    left join ingredients
        on changed.ingredient_code = ingredients.ingredient_code

)

select * from final
