with

orders as (

    select * from {{ ref('stg_pos__orders') }}

),

stores as (

    select * from {{ ref('stg_pos__stores') }}

),

order_items_priced as (

    select * from {{ ref('int_order_items_priced') }}

),

payments as (

    select * from {{ ref('stg_pos__payments') }}

),

order_lines as (

    select
        order_id,
        source_system,
        count(*) as order_lines,
        sum(case when is_countable then quantity else 0 end) as items,
        sum(line_total_cents) as order_total_cents,
        max(_dlt_load_id) as _dlt_load_id

    from order_items_priced
    group by order_id, source_system

),

-- refunds are negative payments; the refund amount is positive
order_refunds as (

    select
        order_id,
        source_system,
        -sum(amount_cents) as refund_amount_cents,
        max(_dlt_load_id) as _dlt_load_id

    from payments
    where payment_kind = 'refund'
    group by order_id, source_system

),

joined as (

    select
        orders.order_id,
        orders.store_id,
        stores.store_code,
        orders.customer_id,
        orders.source_system,
        orders.order_channel,
        orders.order_status,
        orders.business_date as sales_date,
        orders.ordered_at,
        orders.completed_at,
        orders.order_status = 'voided' as is_voided,
        cast(coalesce(order_lines.order_lines, 0) as {{ dbt.type_bigint() }}) as order_lines,
        cast(coalesce(order_lines.items, 0) as {{ dbt.type_bigint() }}) as items,
        cast(
            coalesce(order_lines.order_total_cents, 0) as {{ dbt.type_bigint() }}
        ) as order_total_cents,
        cast(
            coalesce(order_refunds.refund_amount_cents, 0) as {{ dbt.type_bigint() }}
        ) as refund_amount_cents,
        -- the newest load of the order, its lines and its refunds
        {{ newest_load_id([
            'orders._dlt_load_id', 'order_lines._dlt_load_id', 'order_refunds._dlt_load_id',
        ]) }} as _dlt_load_id

    from orders
    left join stores
        on
            orders.store_id = stores.store_id
            and orders.source_system = stores.source_system
    left join order_lines
        on
            orders.order_id = order_lines.order_id
            and orders.source_system = order_lines.source_system
    left join order_refunds
        on
            orders.order_id = order_refunds.order_id
            and orders.source_system = order_refunds.source_system

),

final as (

    select
        order_id,
        store_id,
        store_code,
        customer_id,
        source_system,
        order_channel,
        order_status,
        sales_date,
        ordered_at,
        completed_at,
        is_voided,
        (order_status = 'refunded' or refund_amount_cents > 0) as is_refunded,
        order_lines,
        items,
        order_total_cents,
        refund_amount_cents,
        order_total_cents - refund_amount_cents as net_total_cents,
        {{ cents_to_currency('order_total_cents') }} as order_total,
        {{ cents_to_currency('refund_amount_cents') }} as refund_amount,
        {{ cents_to_currency('order_total_cents - refund_amount_cents') }} as net_total,
        _dlt_load_id

    from joined

)

select * from final
