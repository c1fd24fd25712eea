-- One row per device and hour (UTC, by the device's clock): what arrived, what was valid,
-- temperatures of the valid readings, doors, and for ovens power and pizzas.
with

cleaned as (

    select * from {{ ref('int_sensor_readings_cleaned') }}

),

hourly as (

    select
        device_id,
        reading_hour,
        max(store_code) as store_code,
        max(device_kind) as device_kind,
        count(*) as readings,
        sum(case when is_valid then 1 else 0 end) as valid_readings,
        sum(case when is_spike then 1 else 0 end) as spike_readings,
        sum(case when is_stuck then 1 else 0 end) as stuck_readings,
        sum(coalesce(missing_readings_before, 0)) as missing_readings,
        min(case when is_valid then temperature_c end) as min_temperature_c,
        max(case when is_valid then temperature_c end) as max_temperature_c,
        sum(
            case when is_valid then cast(temperature_c * 100 as {{ dbt.type_bigint() }}) end
        ) as temperature_centi_sum,
        sum(case when is_door_open then 1 else 0 end) as door_open_readings,
        sum(case when power_w > 0 then 1 else 0 end) as power_on_readings,
        sum(power_w) as power_w_sum,
        sum(pizzas_baked) as pizzas_baked

    from cleaned
    group by device_id, reading_hour

),

final as (

    select
        device_id,
        store_code,
        device_kind,
        reading_hour,
        cast(reading_hour as date) as reading_date,
        cast(readings as {{ dbt.type_bigint() }}) as readings,
        cast(valid_readings as {{ dbt.type_bigint() }}) as valid_readings,
        cast(spike_readings as {{ dbt.type_bigint() }}) as spike_readings,
        cast(stuck_readings as {{ dbt.type_bigint() }}) as stuck_readings,
        cast(missing_readings as {{ dbt.type_bigint() }}) as missing_readings,
        cast(min_temperature_c as decimal(9, 2)) as min_temperature_c,
        {{ ratio_2dp('temperature_centi_sum', '100 * valid_readings') }} as avg_temperature_c,
        cast(max_temperature_c as decimal(9, 2)) as max_temperature_c,
        cast(door_open_readings as {{ dbt.type_bigint() }}) as door_open_readings,
        case
            when device_kind = 'oven'
                then cast(power_on_readings as {{ dbt.type_bigint() }})
        end as power_on_readings,
        case
            when device_kind = 'oven' then {{ ratio_2dp('power_w_sum', 'readings') }}
        end as avg_power_w,
        cast(pizzas_baked as {{ dbt.type_bigint() }}) as pizzas_baked

    from hourly

)

select * from final
