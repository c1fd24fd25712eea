{#-
    Incremental on DuckDB (delete+insert on the line), driven by the loads
    (docs/incremental.md): the nightly build rewrites the lines of every order whose line
    or order row a load brought since the last successful night, whatever its date;
    without that record, every line whose newest load id differs from the table's. Lines
    gone from the input (quarantined later) are deleted (post-hook). Rebuilt in full on
    Spark (dbt_project.yml).
-#}
{{
    config(
        materialized='incremental',
        unique_key=['order_item_id', 'source_system'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_keys_gone_from(ref('stg_pos__order_items'), ['order_item_id', 'source_system']) }}",
    )
}}
{%- set new_loads = loads_since_last_build('pos') | trim %}

with

order_items as (

    select * from {{ ref('stg_pos__order_items') }}

),

orders as (

    select * from {{ ref('stg_pos__orders') }}

),

stores as (

    select * from {{ ref('stg_pos__stores') }}

),

{%- if new_loads %}

-- the orders a load since the last successful night touched, by their row or a line's;
-- read in the raw tables, so that a line quarantined since still rewrites its order
changed_orders as (

    {{ pos_orders_written_by(['order_items', 'orders'], new_loads) }}

),

-- their lines only, before the joins (filtered after them, DuckDB joins every line first)
changed_order_items as (

    select order_items.*
    from order_items
    inner join changed_orders
        on
            order_items.order_id = changed_orders.order_id
            and order_items.source_system = changed_orders.source_system

),
{%- endif %}

-- every line stays, even when its order is missing from the POS extract
order_items_with_orders as (

    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.product_id,
        orders.store_id,
        stores.store_code,
        order_items.source_system,
        orders.order_status,
        orders.business_date as sales_date,
        order_items.quantity,
        order_items.unit_price_cents,
        order_items.discount_cents,
        order_items.unit_price,
        order_items.discount,
        order_items.is_voided as is_line_voided,
        coalesce(orders.order_status = 'voided', false) as is_order_voided,
        -- the newest load of the line and its order: a change to either moves it
        {{ newest_load_id(['order_items._dlt_load_id', 'orders._dlt_load_id']) }}
            as _dlt_load_id

    from {{ 'changed_order_items' if new_loads else 'order_items' }} as order_items
    left join orders
        on
            order_items.order_id = orders.order_id
            and order_items.source_system = orders.source_system
    left join stores
        on
            orders.store_id = stores.store_id
            and orders.source_system = stores.source_system

),

priced as (

    select
        *,
        (is_line_voided or is_order_voided) as is_voided,
        (not is_line_voided and not is_order_voided) as is_countable,
        case
            when not is_line_voided and not is_order_voided
                then quantity * unit_price_cents - discount_cents
            else 0
        end as line_total_cents

    from order_items_with_orders

),

final as (

    select
        order_item_id,
        order_id,
        product_id,
        store_id,
        store_code,
        source_system,
        order_status,
        sales_date,
        quantity,
        unit_price_cents,
        discount_cents,
        unit_price,
        discount,
        is_line_voided,
        is_order_voided,
        is_voided,
        is_countable,
        line_total_cents,
        {{ cents_to_currency('line_total_cents') }} as line_total,
        _dlt_load_id,
        '{{ invocation_id }}' as _dbt_invocation_id

    from priced

)

select * from final
{%- if is_incremental() and not new_loads %}
where {{ changed_since_last_build('final', ['order_item_id', 'source_system']) }}
{%- endif %}
