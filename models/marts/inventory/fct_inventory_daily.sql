{#-
    The stock of every ingredient in every store, day by day. The day's movements come
    from int_ingredients_moved; this model lays the calendar under them and keeps the
    balance. Opening stock is the last count carried forward through what happened since:

        opening(d)  = counted closing of the last count before d
                      + deliveries - use - waste of the days after that count, before d
        expected(d) = opening(d) + delivered(d) - used(d) - wasted(d)

    which is the recursion "opening(d) = counted(d - 1), or expected(d - 1) on a day
    without a count" written with window functions only (no recursive CTE, so it runs on
    Spark too): the cumulative movement up to a day, and an anchor per count (the count
    minus the cumulative movement up to its day) carried forward to the next count.

    Incremental on DuckDB (delete+insert on store, ingredient and day), driven by the
    result (docs/incremental.md): the running sums need the whole history, so every run
    computes it (a few hundred thousand rows at medium size), and writes only the rows
    that differ from the table's, whatever their day: a corrected count or a late
    delivery of an old day moves every later balance of its store and ingredient, and
    each of those rows is rewritten. A store and ingredient with nothing left in
    int_ingredients_moved is deleted (post-hook).
    On Spark dbt_project.yml rebuilds it in full, and the strategy must not be
    delete+insert there (dbt-spark refuses it).
-#}
{{
    config(
        materialized='incremental',
        unique_key=['store_code', 'ingredient_code', 'inventory_date'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_keys_gone_from(ref('int_ingredients_moved'), ['store_code', 'ingredient_code']) }}",
    )
}}
with

dates as (

    select * from {{ ref('dim_dates') }}

),

ingredients as (

    select * from {{ ref('ingredients') }}

),

moved as (

    select * from {{ ref('int_ingredients_moved') }}

),

-- every ingredient a store has had anything to do with, every day from the store's first
-- day with inventory or sales to the last day of the calendar
store_ingredients as (

    select
        store_code,
        ingredient_code

    from moved
    group by store_code, ingredient_code

),

store_first_dates as (

    select
        store_code,
        min(inventory_date) as first_date

    from moved
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
        coalesce(moved.delivered_quantity, 0) as delivered_quantity,
        coalesce(moved.delivered_cost, 0) as delivered_cost,
        coalesce(moved.used_quantity, 0) as used_quantity,
        coalesce(moved.wasted_quantity, 0) as wasted_quantity,
        moved.counted_quantity as counted_closing_quantity,
        coalesce(moved.is_counted, false) as is_counted

    from spine
    left join moved
        on
            spine.store_code = moved.store_code
            and spine.ingredient_code = moved.ingredient_code
            and spine.inventory_date = moved.inventory_date

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
        *,
        -- the group's count minus the movement up to its day (null before the first count)
        max(
            case when is_counted then counted_closing_quantity - cumulative_movement end
        ) over (partition by store_code, ingredient_code, count_group) as group_anchor

    from running

),

-- the anchor of the last count before the day: on a count day, the previous group's
carried as (

    select
        *,
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

computed as (

    select
        carried.store_code,
        carried.ingredient_code,
        carried.inventory_date,
        ingredients.unit,
        cast(
            carried.opening_anchor + carried.cumulative_movement - carried.net_movement
            as decimal(18, 3)
        ) as opening_quantity,
        cast(carried.delivered_quantity as decimal(18, 3)) as delivered_quantity,
        cast(carried.used_quantity as decimal(18, 3)) as used_quantity,
        cast(carried.wasted_quantity as decimal(18, 3)) as wasted_quantity,
        cast(
            carried.opening_anchor + carried.cumulative_movement as decimal(18, 3)
        ) as expected_closing_quantity,
        cast(carried.counted_closing_quantity as decimal(18, 3)) as counted_closing_quantity,
        cast(
            carried.counted_closing_quantity
            - (carried.opening_anchor + carried.cumulative_movement)
            as decimal(18, 3)
        ) as variance_quantity,
        cast(
            coalesce(
                carried.counted_closing_quantity,
                carried.opening_anchor + carried.cumulative_movement
            ) as decimal(18, 3)
        ) as closing_quantity,
        carried.is_counted,
        cast(carried.delivered_cost as decimal(18, 2)) as delivered_cost

    from carried
    left join ingredients
        on carried.ingredient_code = ingredients.ingredient_code

),

-- incremental: only the rows whose values differ from the table's (or are new)
final as (

    select * from computed
    {% if is_incremental() -%}
        except
        select
            store_code,
            ingredient_code,
            inventory_date,
            unit,
            opening_quantity,
            delivered_quantity,
            used_quantity,
            wasted_quantity,
            expected_closing_quantity,
            counted_closing_quantity,
            variance_quantity,
            closing_quantity,
            is_counted,
            delivered_cost
        from {{ this }}
    {%- endif %}

)

select * from final
