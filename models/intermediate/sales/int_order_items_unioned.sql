{#-
    Incremental on DuckDB (delete+insert on order_item_key), driven by the loads
    (docs/incremental.md): the nightly build rewrites the POS lines
    int_order_items_priced rewrote in this build, and the franchise lines whose line,
    order or pizza a load brought since the last successful night; without that record,
    every line whose newest load id differs from the table's. Lines gone from the input
    (a line dropped from a re-sent export) are deleted (post-hook). Rebuilt in full on
    Spark (dbt_project.yml).
-#}
{{
    config(
        materialized='incremental',
        unique_key='order_item_key',
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_rows_gone_from([
            [ref('int_order_items_priced'), ['source_system', 'order_item_id']],
            [ref('stg_franchise__order_details'), ['source_system', 'store_code', 'order_item_id']],
        ]) }}",
    )
}}
{%- set new_loads = loads_since_last_build('franchise') | trim
    if runs_on_the_loads(['int_order_items_priced'], ['pos']) | trim else '' %}

{#-
    The order lines of every source system in one shape: the myPizza POS's priced lines
    as they are, and the franchise stores' export lines priced at their pizza's price.
    Franchise exports know no voids and no discounts: their lines count, discount 0.
-#}
with

pos_order_items as (

    select * from {{ ref('int_order_items_priced') }}

),

franchise_order_items as (

    select * from {{ ref('stg_franchise__order_details') }}

),

franchise_orders as (

    select * from {{ ref('stg_franchise__orders') }}

),

franchise_pizzas as (

    select * from {{ ref('stg_franchise__pizzas') }}

),

pos_lines as (

    select
        {{ generate_surrogate_key(['source_system', 'order_item_id']) }} as order_item_key,
        {{ generate_surrogate_key(['source_system', 'order_id']) }} as order_key,
        {{ generate_surrogate_key(['source_system', 'product_id']) }} as product_key,
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
        line_total,
        _dlt_load_id

    from pos_order_items
    {%- if new_loads %}
    where {{ rewritten_in_this_build('pos_order_items') }}
    {%- endif %}

),

-- every line stays, even when its order or its pizza is missing from the loaded exports
franchise_lines_joined as (

    select
        franchise_order_items.order_item_id,
        franchise_order_items.order_id,
        franchise_order_items.store_code,
        franchise_order_items.source_system,
        franchise_order_items.pizza_id,
        franchise_orders.order_date as sales_date,
        franchise_order_items.quantity,
        franchise_pizzas.price_cents as unit_price_cents,
        {{ newest_load_id([
            'franchise_order_items._dlt_load_id',
            'franchise_orders._dlt_load_id',
            'franchise_pizzas._dlt_load_id',
        ]) }} as _dlt_load_id

    from franchise_order_items
    left join franchise_orders
        on
            franchise_order_items.store_code = franchise_orders.store_code
            and franchise_order_items.order_id = franchise_orders.order_id
    left join franchise_pizzas
        on
            franchise_order_items.store_code = franchise_pizzas.store_code
            and franchise_order_items.pizza_id = franchise_pizzas.pizza_id
    {%- if new_loads %}
    -- a line, its order or its pizza's price brought by a load since the last night
    where
        franchise_order_items._dlt_load_id in {{ new_loads }}
        or franchise_orders._dlt_load_id in {{ new_loads }}
        or franchise_pizzas._dlt_load_id in {{ new_loads }}
    {%- endif %}

),

franchise_lines as (

    select
        {{ generate_surrogate_key(['source_system', 'store_code', 'order_item_id']) }}
            as order_item_key,
        {{ generate_surrogate_key(['source_system', 'store_code', 'order_id']) }} as order_key,
        {{ generate_surrogate_key(['source_system', 'store_code', 'pizza_id']) }} as product_key,
        cast(order_item_id as {{ dbt.type_bigint() }}) as order_item_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(null as {{ dbt.type_bigint() }}) as product_id,
        cast(null as {{ dbt.type_bigint() }}) as store_id,
        store_code,
        source_system,
        'completed' as order_status,
        sales_date,
        cast(quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(unit_price_cents as {{ dbt.type_bigint() }}) as unit_price_cents,
        cast(0 as {{ dbt.type_bigint() }}) as discount_cents,
        {{ cents_to_currency('unit_price_cents') }} as unit_price,
        {{ cents_to_currency('0') }} as discount,
        false as is_line_voided,
        false as is_order_voided,
        false as is_voided,
        true as is_countable,
        cast(quantity * unit_price_cents as {{ dbt.type_bigint() }}) as line_total_cents,
        {{ cents_to_currency('quantity * unit_price_cents') }} as line_total,
        _dlt_load_id

    from franchise_lines_joined

),

final as (

    select
        *,
        '{{ invocation_id }}' as _dbt_invocation_id
    from pos_lines
    union all
    select
        *,
        '{{ invocation_id }}' as _dbt_invocation_id
    from franchise_lines

)

select * from final
{%- if is_incremental() and not new_loads %}
where {{ changed_since_last_build('final', 'order_item_key') }}
{%- endif %}
