-- The cost each store pays its regular supplier for each ingredient now: the unit cost of
-- the latest delivery (cash & carry purchases left out), and since when it has been that.
with

deliveries as (

    select * from {{ ref('stg_inventory__deliveries') }}

),

regular_deliveries as (

    select
        store_code,
        ingredient_code,
        supplier_code,
        currency,
        delivery_date,
        received_at,
        unit_cost_cents,
        lag(unit_cost_cents) over (
            partition by store_code, ingredient_code
            order by received_at, delivery_id, line_number
        ) as previous_unit_cost_cents,
        row_number() over (
            partition by store_code, ingredient_code
            order by received_at desc, delivery_id desc, line_number desc
        ) as recency

    from deliveries
    where not is_emergency_purchase

),

-- a delivery at another cost than the one before starts a new cost
cost_starts as (

    select
        *,
        max(
            case
                when
                    previous_unit_cost_cents is null
                    or previous_unit_cost_cents != unit_cost_cents
                    then received_at
            end
        ) over (partition by store_code, ingredient_code) as latest_cost_start_at

    from regular_deliveries

),

final as (

    select
        {{ generate_surrogate_key(['store_code', 'ingredient_code']) }} as ingredient_cost_key,
        store_code,
        ingredient_code,
        supplier_code,
        currency,
        unit_cost_cents,
        {{ cents_to_currency('unit_cost_cents') }} as unit_cost,
        cast(latest_cost_start_at as date) as cost_effective_date,
        latest_cost_start_at as cost_effective_at,
        delivery_date as last_delivery_date

    from cost_starts
    where recency = 1

)

select * from final
