{#-
    Incremental on DuckDB (delete+insert on order_item_key), driven by the loads
    (docs/incremental.md): a run rewrites every line whose newest dlt load id (of the line
    and its order) differs from the one the table holds, or that the table lacks, whatever
    its date; lines gone from the input are deleted (post-hook). On Spark dbt_project.yml
    rebuilds it in full, and the strategy must not be delete+insert there (dbt-spark
    refuses it).

    list_price is the menu price valid when the order was placed, from the snapshot of the
    POS products table (snp_pos__products, SCD type 2): the version whose
    [dbt_valid_from, dbt_valid_to) holds the order's ordered_at. Spark builds without
    snapshots (they need Delta, see dbt_project.yml), so there the current products stand
    in, valid from their last update: exactly what a first snapshot of them holds.
-#}
{{
    config(
        materialized='incremental',
        unique_key='order_item_key',
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_keys_gone_from(ref('int_order_items_unioned'), 'order_item_key') }}",
    )
}}

with

order_items as (

    select * from {{ ref('int_order_items_unioned') }}

),

pos_orders as (

    select * from {{ ref('stg_pos__orders') }}

),

{% if target.type == 'spark' %}
    -- Spark: no snapshots (see the note at the top); the current menu, valid from its
    -- last update
    pos_products as (

        select * from {{ ref('stg_pos__products') }}

    ),

    product_versions as (

        select
            product_id,
            source_system,
            price,
            updated_at as valid_from,
            cast(null as {{ dbt.type_timestamp() }}) as valid_to

        from pos_products

    ),
{% else %}
    product_snapshot as (

        select * from {{ ref('snp_pos__products') }}

    ),

    product_versions as (

        select
            product_id,
            source_system,
            price,
            dbt_valid_from as valid_from,
            dbt_valid_to as valid_to

        from product_snapshot

    ),
{% endif %}

changed as (

    select * from order_items
    {% if is_incremental() -%}
        where {{ changed_in_input('order_items', 'order_item_key', ['int_order_items_priced', 'int_order_items_unioned'], ['pos', 'franchise']) }}
    {%- endif %}

),

list_priced as (

    select
        changed.order_item_key,
        changed.order_key,
        changed.store_code,
        changed.product_key,
        changed.sales_date,
        changed.quantity,
        changed.unit_price,
        product_versions.price as list_price,
        changed.discount,
        changed.line_total,
        changed.is_voided,
        changed.source_system,
        changed._dlt_load_id

    from changed
    left join pos_orders
        on
            changed.order_id = pos_orders.order_id
            and changed.source_system = pos_orders.source_system
    left join product_versions
        on
            changed.product_id = product_versions.product_id
            and changed.source_system = product_versions.source_system
            and pos_orders.ordered_at >= product_versions.valid_from
            and (
                pos_orders.ordered_at < product_versions.valid_to
                or product_versions.valid_to is null
            )

),

final as (

    select
        order_item_key,
        order_key,
        store_code,
        product_key,
        sales_date,
        quantity,
        unit_price,
        list_price,
        discount,
        line_total,
        is_voided,
        source_system,
        _dlt_load_id

    from list_priced

)

select * from final
