{#-
    The live slice (tag `live`, docs/live.md): built every few seconds by `mypizza live`
    straight from the POS staging views, so it never waits for the nightly facts. It holds
    each store's current business day and the day before; the figures follow the
    definitions of `rpt_sales_by_hour` (orders that are not voided, net of refunds), and
    the test `assert_live_sales_match_nightly` proves they are equal in every nightly build.
-#}
with

orders as (

    select * from {{ ref('stg_pos__orders') }}

),

order_items as (

    select * from {{ ref('stg_pos__order_items') }}

),

payments as (

    select * from {{ ref('stg_pos__payments') }}

),

pos_stores as (

    select * from {{ ref('stg_pos__stores') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

-- each store's current business day (the newest it took an order on)
store_days as (

    select
        store_id,
        max(business_date) as latest_business_date

    from orders
    group by store_id

),

live_orders as (

    select
        orders.order_id,
        orders.store_id,
        orders.order_channel,
        orders.order_status,
        orders.business_date,
        orders.ordered_at

    from orders
    inner join store_days
        on orders.store_id = store_days.store_id
    where orders.business_date >= store_days.latest_business_date - 1

),

order_totals as (

    select
        order_items.order_id,
        sum(
            case
                when not order_items.is_voided
                    then
                        order_items.quantity * order_items.unit_price_cents
                        - order_items.discount_cents
                else 0
            end
        ) as order_total_cents

    from order_items
    where order_items.order_id in (select live_orders.order_id from live_orders)
    group by order_items.order_id

),

order_refunds as (

    select
        payments.order_id,
        -sum(payments.amount_cents) as refund_amount_cents

    from payments
    where
        payments.payment_kind = 'refund'
        and payments.order_id in (select live_orders.order_id from live_orders)
    group by payments.order_id

),

orders_local as (

    select
        pos_stores.store_code,
        live_orders.business_date as sales_date,
        live_orders.order_channel,
        coalesce(order_totals.order_total_cents, 0) as order_total_cents,
        coalesce(order_refunds.refund_amount_cents, 0) as refund_amount_cents,
        cast(
            extract(
                hour from {{ utc_to_local_timestamp('live_orders.ordered_at', 'stores.timezone') }}
            ) as {{ dbt.type_bigint() }}
        ) as hour_of_day

    from live_orders
    inner join pos_stores
        on live_orders.store_id = pos_stores.store_id
    inner join stores
        on pos_stores.store_code = stores.store_code
    left join order_totals
        on live_orders.order_id = order_totals.order_id
    left join order_refunds
        on live_orders.order_id = order_refunds.order_id
    where live_orders.order_status != 'voided'

),

hourly as (

    select
        store_code,
        sales_date,
        hour_of_day,
        order_channel,
        count(*) as orders,
        sum(order_total_cents) as gross_sales_cents,
        sum(refund_amount_cents) as refunds_cents

    from orders_local
    group by store_code, sales_date, hour_of_day, order_channel

),

final as (

    select
        hourly.store_code,
        hourly.sales_date,
        hourly.hour_of_day,
        hourly.order_channel,
        stores.currency,
        cast(hourly.orders as {{ dbt.type_bigint() }}) as orders,
        cast({{ cents_to_currency('hourly.gross_sales_cents') }} as decimal(18, 2)) as gross_sales,
        cast({{ cents_to_currency('hourly.refunds_cents') }} as decimal(18, 2)) as refunds,
        cast(
            {{ cents_to_currency('hourly.gross_sales_cents - hourly.refunds_cents') }}
            as decimal(18, 2)
        ) as net_sales

    from hourly
    left join stores
        on hourly.store_code = stores.store_code

)

select * from final
