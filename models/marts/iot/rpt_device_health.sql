-- One row per kitchen device: when it was first and last heard of, how many readings
-- arrived against how many it counted (uptime), gaps, reboots, spikes, stuck values and
-- garbled messages.
with

cleaned as (

    select * from {{ ref('int_sensor_readings_cleaned') }}

),

quarantined as (

    select * from {{ ref('stg_iot__quarantined_messages') }}

),

boots as (

    select
        device_id,
        boot_number,
        max(sequence_number) - min(sequence_number) + 1 as readings_counted

    from cleaned
    group by device_id, boot_number

),

boots_summed as (

    select
        device_id,
        sum(readings_counted) as readings_counted,
        count(*) as boots,
        max(boot_number) as current_boot_number

    from boots
    group by device_id

),

devices as (

    select
        device_id,
        max(store_code) as store_code,
        max(device_kind) as device_kind,
        min(reading_at) as first_seen_at,
        max(reading_at) as last_seen_at,
        count(*) as readings_received,
        sum(case when missing_readings_before > 0 then 1 else 0 end) as gaps,
        coalesce(max(missing_readings_before), 0) as longest_gap_readings,
        sum(case when is_spike then 1 else 0 end) as spike_readings,
        sum(case when is_stuck then 1 else 0 end) as stuck_readings

    from cleaned
    group by device_id

),

garbled as (

    select
        device_id,
        count(*) as quarantined_messages

    from quarantined
    group by device_id

),

newest as (

    select max(reading_at) as newest_reading_at from cleaned

),

final as (

    select
        devices.device_id,
        devices.store_code,
        devices.device_kind,
        devices.first_seen_at,
        devices.last_seen_at,
        cast(
            {{ dbt.datediff('devices.last_seen_at', 'newest.newest_reading_at', 'minute') }}
            as {{ dbt.type_bigint() }}
        ) as minutes_silent,
        cast(devices.readings_received as {{ dbt.type_bigint() }}) as readings_received,
        cast(boots_summed.readings_counted as {{ dbt.type_bigint() }}) as readings_counted,
        cast(
            boots_summed.readings_counted - devices.readings_received as {{ dbt.type_bigint() }}
        ) as readings_missing,
        {{ ratio_2dp('100 * devices.readings_received', 'boots_summed.readings_counted') }}
            as uptime_pct,
        cast(devices.gaps as {{ dbt.type_bigint() }}) as gaps,
        cast(devices.longest_gap_readings as {{ dbt.type_bigint() }}) as longest_gap_readings,
        cast(boots_summed.boots - 1 as {{ dbt.type_bigint() }}) as reboots,
        cast(boots_summed.current_boot_number as {{ dbt.type_bigint() }}) as current_boot_number,
        cast(devices.spike_readings as {{ dbt.type_bigint() }}) as spike_readings,
        cast(devices.stuck_readings as {{ dbt.type_bigint() }}) as stuck_readings,
        cast(
            coalesce(garbled.quarantined_messages, 0) as {{ dbt.type_bigint() }}
        ) as quarantined_messages

    from devices
    inner join boots_summed
        on devices.device_id = boots_summed.device_id
    cross join newest
    left join garbled
        on devices.device_id = garbled.device_id

)

select * from final
