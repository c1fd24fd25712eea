{#-
    Incremental on DuckDB (delete+insert on order_key), driven by the loads
    (docs/incremental.md): a run rewrites every order whose newest dlt load id (of the
    order, its lines, its refunds) differs from the one the table holds, or that the table
    lacks, whatever its date: a chargeback months later arrives with the next run. Orders
    gone from the input are deleted (post-hook). On Spark the strategy must not be
    delete+insert (dbt-spark refuses it even for a full rebuild) and dbt_project.yml
    rebuilds every incremental model in full.
-#}
{{
    config(
        materialized='incremental',
        unique_key='order_key',
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_keys_gone_from(ref('int_orders_unioned'), 'order_key') }}",
    )
}}

with

orders as (

    select * from {{ ref('int_orders_unioned') }}

),

changed as (

    select * from orders
    {% if is_incremental() -%}
        where {{ changed_in_input('orders', 'order_key', ['int_order_items_priced', 'int_orders_summarised', 'int_order_items_unioned', 'int_orders_unioned'], ['pos', 'franchise']) }}
    {%- endif %}

),

final as (

    select
        order_key,
        order_id,
        store_code,
        customer_key,
        ordered_at,
        sales_date,
        order_channel,
        order_status,
        is_voided,
        is_refunded,
        items,
        order_total,
        refund_amount,
        net_total,
        source_system,
        _dlt_load_id

    from changed

)

select * from final
