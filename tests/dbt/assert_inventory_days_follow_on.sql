-- In fct_inventory_daily a day follows on from the one before: its opening stock is the
-- previous day's closing stock (counted, or expected when not counted), and its expected
-- closing stock is opening + delivered - used - wasted.
-- Returns every store, ingredient and day that breaks either rule.
with

inventory_daily as (

    select * from {{ ref('fct_inventory_daily') }}

),

with_previous as (

    select
        store_code,
        ingredient_code,
        inventory_date,
        opening_quantity,
        delivered_quantity,
        used_quantity,
        wasted_quantity,
        expected_closing_quantity,
        lag(closing_quantity) over (
            partition by store_code, ingredient_code
            order by inventory_date
        ) as previous_closing_quantity

    from inventory_daily

),

final as (

    select
        store_code,
        ingredient_code,
        inventory_date,
        opening_quantity,
        previous_closing_quantity,
        expected_closing_quantity

    from with_previous
    where
        opening_quantity != previous_closing_quantity
        or (opening_quantity is null and previous_closing_quantity is not null)
        or expected_closing_quantity
        != opening_quantity + delivered_quantity - used_quantity - wasted_quantity

)

select * from final
