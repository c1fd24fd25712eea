{#-
    Incremental on DuckDB (delete+insert on the order), driven by the loads
    (docs/incremental.md): the nightly build rewrites every order whose row or refund a
    load brought since the last successful night, or whose lines int_order_items_priced
    rewrote in this build; without that record, every order whose newest load id
    differs from the table's. Orders gone from the input are deleted (post-hook).
    Rebuilt in full on Spark (dbt_project.yml).
-#}
{{
    config(
        materialized='incremental',
        unique_key=['order_id', 'source_system'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_keys_gone_from(ref('stg_pos__orders'), ['order_id', 'source_system']) }}",
    )
}}
{%- set new_loads = loads_since_last_build('pos') | trim
    if runs_on_the_loads(['int_order_items_priced'], ['pos']) | trim else '' %}

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

{%- if new_loads %}

-- the orders a load since the last successful night touched, or whose lines were
-- rewritten in this build
changed_orders as (

    {{ pos_orders_written_by(['orders', 'payments', 'order_items'], new_loads) }}
    union
    select order_id, source_system from order_items_priced
    where {{ rewritten_in_this_build('order_items_priced') }}

),

-- those orders only, before the joins
changed_order_rows as (

    select orders.*
    from orders
    inner join changed_orders
        on
            orders.order_id = changed_orders.order_id
            and orders.source_system = changed_orders.source_system

),
{%- endif %}

order_lines as (

    select
        order_id,
        source_system,
        count(*) as order_lines,
        sum(case when is_countable then quantity else 0 end) as items,
        sum(line_total_cents) as order_total_cents,
        max(_dlt_load_id) as _dlt_load_id

    from order_items_priced
    {%- if new_loads %}
    where exists (
        select 1 from changed_orders
        where
            changed_orders.order_id = order_items_priced.order_id
            and changed_orders.source_system = order_items_priced.source_system
    )
    {%- endif %}
    group by order_id, source_system

),

-- refunds are negative payments; the refund amount is positive
refunds as (

    select * from payments
    where payment_kind = 'refund'

),

order_refunds as (

    select
        order_id,
        source_system,
        -sum(amount_cents) as refund_amount_cents,
        max(_dlt_load_id) as _dlt_load_id

    from refunds
    {%- if new_loads %}
    where exists (
        select 1 from changed_orders
        where
            changed_orders.order_id = refunds.order_id
            and changed_orders.source_system = refunds.source_system
    )
    {%- endif %}
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

    from {{ 'changed_order_rows' if new_loads else 'orders' }} as orders
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
        _dlt_load_id,
        '{{ invocation_id }}' as _dbt_invocation_id

    from joined

)

select * from final
{%- if is_incremental() and not new_loads %}
where {{ changed_since_last_build('final', ['order_id', 'source_system']) }}
{%- endif %}
