{{ config(tags=['reconciles']) }}

-- Tagged `reconciles`: the marts it compares are published together, or held back
-- together (docs/failures.md). `mypizza live` leaves it out (the nightly marts are only
-- rebuilt at night); every nightly build, which builds both from the same loads, runs it.
-- The live slice counts as the nightly report: for every POS store, day, hour and channel
-- the live slice holds, the orders and net sales of `rpt_sales_by_hour` are the same.
-- Returns one row per store-day-hour-channel that differs or exists on one side only.
with

live as (

    select * from {{ ref('rpt_live_sales_by_hour') }}

),

nightly as (

    select * from {{ ref('rpt_sales_by_hour') }}

),

live_days as (

    select distinct
        store_code,
        sales_date

    from live

),

nightly_in_window as (

    select nightly.*

    from nightly
    inner join live_days
        on
            nightly.store_code = live_days.store_code
            and nightly.sales_date = live_days.sales_date

),

compared as (

    select
        coalesce(live.store_code, nightly_in_window.store_code) as store_code,
        coalesce(live.sales_date, nightly_in_window.sales_date) as sales_date,
        coalesce(live.hour_of_day, nightly_in_window.hour_of_day) as hour_of_day,
        coalesce(live.order_channel, nightly_in_window.order_channel) as order_channel,
        live.orders as live_orders,
        nightly_in_window.orders as nightly_orders,
        live.net_sales as live_net_sales,
        nightly_in_window.net_sales as nightly_net_sales

    from live
    full outer join nightly_in_window
        on
            live.store_code = nightly_in_window.store_code
            and live.sales_date = nightly_in_window.sales_date
            and live.hour_of_day = nightly_in_window.hour_of_day
            and live.order_channel = nightly_in_window.order_channel

)

select * from compared
where
    live_orders is distinct from nightly_orders
    or live_net_sales is distinct from nightly_net_sales
