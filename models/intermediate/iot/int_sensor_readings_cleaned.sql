-- Every reading once, in the device's own order (boot, then sequence number: arrival order
-- and device clocks cannot be trusted), judged: spikes, stuck values, readings missing
-- before it, the first reading after a reboot. Readings that are neither spike nor stuck
-- are valid: only they count in temperature figures and excursions.
with

readings as (

    select * from {{ ref('stg_iot__readings') }}

),

ordered as (

    select
        *,
        lag(temperature_c) over device_order as previous_temperature_c,
        lead(temperature_c) over device_order as next_temperature_c,
        lag(boot_number) over device_order as previous_boot_number,
        lag(sequence_number) over device_order as previous_sequence_number,
        lag(reading_at) over device_order as previous_reading_at

    from readings
    window device_order as (partition by device_id order by boot_number, sequence_number)

),

-- runs of the same temperature in a row (a new run at each change or reboot)
runs_started as (

    select
        *,
        case
            when
                previous_temperature_c = temperature_c
                and previous_boot_number = boot_number
                then 0
            else 1
        end as starts_run

    from ordered

),

runs_numbered as (

    select
        *,
        sum(starts_run) over (
            partition by device_id
            order by boot_number, sequence_number
            rows between unbounded preceding and current row
        ) as run_number

    from runs_started

),

runs_measured as (

    select
        *,
        count(*) over (partition by device_id, run_number) as run_length

    from runs_numbered

),

judged as (

    select
        reading_key,
        device_id,
        store_code,
        device_kind,
        boot_number,
        sequence_number,
        reading_at,
        cast({{ dbt.date_trunc('hour', 'reading_at') }} as {{ dbt.type_timestamp() }})
            as reading_hour,
        temperature_c,
        is_door_open,
        power_w,
        pizzas_baked,
        coalesce(
            abs(temperature_c - previous_temperature_c) > {{ var('iot_spike_c', 15) }}
            and abs(temperature_c - next_temperature_c) > {{ var('iot_spike_c', 15) }}
            and (temperature_c - previous_temperature_c) * (temperature_c - next_temperature_c) > 0
            and abs(previous_temperature_c - next_temperature_c)
            < {{ var('iot_spike_neighbours_c', 5) }},
            false
        ) as is_spike,
        run_length >= {{ var('iot_stuck_readings', 10) }} as is_stuck,
        case
            when previous_boot_number = boot_number
                then sequence_number - previous_sequence_number - 1
        end as missing_readings_before,
        coalesce(previous_boot_number < boot_number, false) as is_first_after_reboot,
        case
            when previous_reading_at is not null
                then {{ dbt.datediff('previous_reading_at', 'reading_at', 'second') }}
        end as seconds_since_previous

    from runs_measured

),

final as (

    select
        *,
        not is_spike and not is_stuck as is_valid

    from judged

)

select * from final
