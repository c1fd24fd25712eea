with

customers as (

    select * from {{ ref('stg_pos__customers') }}

),

stores as (

    select * from {{ ref('stg_pos__stores') }}

),

orders as (

    select * from {{ ref('int_orders_summarised') }}

),

customer_orders as (

    select
        customer_id,
        source_system,
        min(sales_date) as first_order_date,
        max(sales_date) as last_order_date,
        count(*) as lifetime_orders,
        sum(net_total_cents) as lifetime_net_spend_cents

    from orders
    where
        not is_voided
        and customer_id is not null
    group by customer_id, source_system

),

final as (

    select
        {{ generate_surrogate_key(['customers.source_system', 'customers.customer_id']) }}
            as customer_key,
        customers.customer_id,
        customers.email_hash,
        stores.store_code as home_store_code,
        customers.loyalty_tier,
        customers.signed_up_at,
        customer_orders.first_order_date,
        customer_orders.last_order_date,
        cast(
            coalesce(customer_orders.lifetime_orders, 0) as {{ dbt.type_bigint() }}
        ) as lifetime_orders,
        {{ cents_to_currency('coalesce(customer_orders.lifetime_net_spend_cents, 0)') }}
            as lifetime_net_spend,
        customers.source_system

    from customers
    left join stores
        on
            customers.home_store_id = stores.store_id
            and customers.source_system = stores.source_system
    left join customer_orders
        on
            customers.customer_id = customer_orders.customer_id
            and customers.source_system = customer_orders.source_system

)

select * from final
