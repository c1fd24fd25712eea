{#-
    The live slice (tag `live`, docs/live.md): every delivery (web and app orders) of the
    last two business days that is not yet delivered, how long it has been open on the
    POS's own clock (its newest write), and whether it is late.
-#}
with

orders as (

    select * from {{ ref('stg_pos__orders') }}

),

pos_stores as (

    select * from {{ ref('stg_pos__stores') }}

),

-- "now" as the POS knows it: its newest write (a simulated world runs its own clock)
pos_clock as (

    select max(updated_at) as pos_clock_at

    from orders

),

store_days as (

    select
        store_id,
        max(business_date) as latest_business_date

    from orders
    group by store_id

),

open_deliveries as (

    select
        orders.order_id,
        pos_stores.store_code,
        orders.business_date as sales_date,
        orders.order_channel,
        orders.order_status,
        orders.ordered_at,
        pos_clock.pos_clock_at

    from orders
    inner join store_days
        on orders.store_id = store_days.store_id
    inner join pos_stores
        on orders.store_id = pos_stores.store_id
    cross join pos_clock
    where
        orders.business_date >= store_days.latest_business_date - 1
        and orders.order_channel in ('web', 'delivery_app')
        and orders.order_status in ('placed', 'in_delivery')

),

timed as (

    select
        *,
        {{ dbt.datediff('ordered_at', 'pos_clock_at', 'minute') }}
            as minutes_open

    from open_deliveries

),

final as (

    select
        order_id,
        store_code,
        sales_date,
        order_channel,
        order_status,
        ordered_at,
        cast(minutes_open as {{ dbt.type_bigint() }}) as minutes_open,
        minutes_open > {{ var('live_late_delivery_minutes') }} as is_late

    from timed

)

select * from final
