{#-
    Incremental on DuckDB (delete+insert on order_key), driven by the loads
    (docs/incremental.md): the nightly build rewrites the POS orders
    int_orders_summarised rewrote in this build, and the franchise orders a load brought
    since the last successful night or whose lines int_order_items_unioned rewrote;
    without that record, every order whose newest load id differs from the table's.
    Orders gone from the input are deleted (post-hook). Rebuilt in full on Spark
    (dbt_project.yml).
-#}
{{
    config(
        materialized='incremental',
        unique_key='order_key',
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='append_new_columns',
        post_hook="{{ delete_rows_gone_from([
            [ref('int_orders_summarised'), ['source_system', 'order_id']],
            [ref('stg_franchise__orders'), ['source_system', 'store_code', 'order_id']],
        ]) }}",
    )
}}
{%- set new_loads = loads_since_last_build('franchise') | trim
    if runs_on_the_loads(
        ['int_order_items_priced', 'int_orders_summarised', 'int_order_items_unioned'],
        ['pos', 'franchise'],
    ) | trim else '' %}

{#-
    The orders of every source system in one shape: the myPizza POS's summarised orders
    as they are, and the franchise stores' exports, their local time turned into UTC with
    the store's time zone (store master seed) and their totals summed from their lines.
    Franchise exports know no voids, refunds, customers or channels: every order is
    `completed`, channel `unknown`, no customer, refunds 0.
-#}
with

pos_orders as (

    select * from {{ ref('int_orders_summarised') }}

),

franchise_orders as (

    select * from {{ ref('stg_franchise__orders') }}

),

stores as (

    select * from {{ ref('stores') }}

),

order_items as (

    select * from {{ ref('int_order_items_unioned') }}

),

pos_final as (

    select
        {{ generate_surrogate_key(['source_system', 'order_id']) }} as order_key,
        case
            when customer_id is not null
                then {{ generate_surrogate_key(['source_system', 'customer_id']) }}
        end as customer_key,
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
        is_refunded,
        order_lines,
        items,
        order_total_cents,
        refund_amount_cents,
        net_total_cents,
        order_total,
        refund_amount,
        net_total,
        _dlt_load_id

    from pos_orders
    {%- if new_loads %}
    where {{ rewritten_in_this_build('pos_orders') }}
    {%- endif %}

),

franchise_order_lines as (

    select
        order_key,
        count(*) as order_lines,
        sum(quantity) as items,
        sum(line_total_cents) as order_total_cents,
        max(_dlt_load_id) as _dlt_load_id

    from order_items
    where source_system = '{{ var("franchise_source_system") }}'
    group by order_key

),

franchise_joined as (

    select
        {{ generate_surrogate_key([
            'franchise_orders.source_system',
            'franchise_orders.store_code',
            'franchise_orders.order_id',
        ]) }} as order_key,
        franchise_orders.order_id,
        franchise_orders.store_code,
        franchise_orders.source_system,
        franchise_orders.order_date as sales_date,
        {{ local_to_utc_timestamp('franchise_orders.ordered_at_local', 'stores.timezone') }}
            as ordered_at,
        franchise_orders._dlt_load_id

    from franchise_orders
    left join stores
        on franchise_orders.store_code = stores.store_code

),
{%- if new_loads %}

-- franchise orders a load brought since the last night, or whose lines were rewritten
franchise_changed as (

    select order_key from franchise_joined
    where _dlt_load_id in {{ new_loads }}
    union
    select order_key from order_items
    where
        source_system = '{{ var("franchise_source_system") }}'
        and {{ rewritten_in_this_build('order_items') }}

),
{%- endif %}

franchise_final as (

    select
        franchise_joined.order_key,
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(franchise_joined.order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(null as {{ dbt.type_bigint() }}) as store_id,
        franchise_joined.store_code,
        cast(null as {{ dbt.type_bigint() }}) as customer_id,
        franchise_joined.source_system,
        'unknown' as order_channel,
        'completed' as order_status,
        franchise_joined.sales_date,
        cast(franchise_joined.ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(null as {{ dbt.type_timestamp() }}) as completed_at,
        false as is_voided,
        false as is_refunded,
        cast(coalesce(line_totals.order_lines, 0) as {{ dbt.type_bigint() }}) as order_lines,
        cast(coalesce(line_totals.items, 0) as {{ dbt.type_bigint() }}) as items,
        cast(
            coalesce(line_totals.order_total_cents, 0) as {{ dbt.type_bigint() }}
        ) as order_total_cents,
        cast(0 as {{ dbt.type_bigint() }}) as refund_amount_cents,
        cast(
            coalesce(line_totals.order_total_cents, 0) as {{ dbt.type_bigint() }}
        ) as net_total_cents,
        {{ cents_to_currency('coalesce(line_totals.order_total_cents, 0)') }} as order_total,
        {{ cents_to_currency('0') }} as refund_amount,
        {{ cents_to_currency('coalesce(line_totals.order_total_cents, 0)') }} as net_total,
        {{ newest_load_id(['franchise_joined._dlt_load_id', 'line_totals._dlt_load_id']) }}
            as _dlt_load_id

    from franchise_joined
    left join franchise_order_lines as line_totals
        on franchise_joined.order_key = line_totals.order_key
    {%- if new_loads %}
    where franchise_joined.order_key in (select order_key from franchise_changed)
    {%- endif %}

),

final as (

    select
        *,
        '{{ invocation_id }}' as _dbt_invocation_id
    from pos_final
    union all
    select
        *,
        '{{ invocation_id }}' as _dbt_invocation_id
    from franchise_final

)

select * from final
{%- if is_incremental() and not new_loads %}
where {{ changed_since_last_build('final', 'order_key') }}
{%- endif %}
