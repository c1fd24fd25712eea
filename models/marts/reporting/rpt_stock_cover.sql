-- What runs out next: per store and ingredient, the stock at the end of the latest day,
-- how many days it lasts at the rate the last seven days used (sales and waste), and the
-- day it runs out at that rate.
with

inventory_daily as (

    select * from {{ ref('fct_inventory_daily') }}

),

ingredients as (

    select * from {{ ref('dim_ingredients') }}

),

backups as (

    select * from {{ ref('stg_inventory__inventory_backups') }}

),

latest_dates as (

    select
        store_code,
        max(inventory_date) as as_of_date

    from inventory_daily
    group by store_code

),

latest_days as (

    select
        inventory_daily.store_code,
        inventory_daily.ingredient_code,
        latest_dates.as_of_date,
        inventory_daily.closing_quantity,
        inventory_daily.is_counted

    from inventory_daily
    inner join latest_dates
        on
            inventory_daily.store_code = latest_dates.store_code
            and inventory_daily.inventory_date = latest_dates.as_of_date

),

recent_use as (

    select
        inventory_daily.store_code,
        inventory_daily.ingredient_code,
        sum(inventory_daily.used_quantity + inventory_daily.wasted_quantity) as consumed_quantity

    from inventory_daily
    inner join latest_dates
        on
            inventory_daily.store_code = latest_dates.store_code
            and inventory_daily.inventory_date
            > {{ dbt.dateadd('day', -7, 'latest_dates.as_of_date') }}
    group by inventory_daily.store_code, inventory_daily.ingredient_code

),

latest_backups as (

    select
        backups.store_code,
        backups.ingredient_code,
        backups.reorder_point,
        row_number() over (
            partition by backups.store_code, backups.ingredient_code
            order by backups.backup_date desc
        ) as recency

    from backups
    inner join latest_dates
        on
            backups.store_code = latest_dates.store_code
            and backups.backup_date <= latest_dates.as_of_date

),

cover as (

    select
        latest_days.store_code,
        latest_days.ingredient_code,
        latest_days.as_of_date,
        latest_days.closing_quantity,
        latest_days.is_counted,
        cast(recent_use.consumed_quantity as decimal(18, 3)) / 7 as daily_use,
        latest_backups.reorder_point

    from latest_days
    inner join recent_use
        on
            latest_days.store_code = recent_use.store_code
            and latest_days.ingredient_code = recent_use.ingredient_code
    left join latest_backups
        on
            latest_days.store_code = latest_backups.store_code
            and latest_days.ingredient_code = latest_backups.ingredient_code
            and latest_backups.recency = 1
    where recent_use.consumed_quantity > 0

),

days_left as (

    select
        store_code,
        ingredient_code,
        as_of_date,
        closing_quantity,
        is_counted,
        daily_use,
        reorder_point,
        case
            when closing_quantity <= 0 then 0
            else closing_quantity / daily_use
        end as days_of_cover

    from cover

),

final as (

    select
        days_left.store_code,
        days_left.ingredient_code,
        ingredients.ingredient_name,
        ingredients.unit,
        ingredients.supplier_code,
        days_left.as_of_date,
        cast(days_left.closing_quantity as decimal(18, 3)) as closing_quantity,
        days_left.is_counted as is_closing_counted,
        cast(days_left.daily_use as decimal(18, 3)) as daily_use,
        cast(days_left.days_of_cover as decimal(18, 1)) as days_of_cover,
        cast(
            {{ dbt.dateadd(
                'day',
                'cast(floor(days_left.days_of_cover) as ' ~ dbt.type_int() ~ ')',
                'days_left.as_of_date'
            ) }} as date
        ) as runs_out_date,
        cast(days_left.reorder_point as decimal(18, 3)) as reorder_point,
        coalesce(days_left.closing_quantity < days_left.reorder_point, false)
            as is_below_reorder_point,
        cast(
            row_number() over (
                partition by days_left.store_code
                order by days_left.days_of_cover asc nulls last, days_left.ingredient_code asc
            ) as {{ dbt.type_bigint() }}
        ) as runs_out_rank

    from days_left
    left join ingredients
        on days_left.ingredient_code = ingredients.ingredient_code

)

select * from final
