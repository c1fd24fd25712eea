-- Cold-chain excursions (HACCP): runs of valid readings of a fridge above 5 C or a freezer
-- above -15 C, in the device's own order, lasting iot_excursion_minutes or more. Starts at
-- the first reading above the limit, ends at the first reading back at or under it (null
-- while the device is still above).
with

cleaned as (

    select * from {{ ref('int_sensor_readings_cleaned') }}

),

valid as (

    select
        *,
        cast(
            case device_kind
                when 'fridge' then {{ var('iot_chilled_limit_c', 5) }}
                else {{ var('iot_frozen_limit_c', -15) }}
            end as decimal(9, 2)
        ) as limit_c

    from cleaned
    where is_valid and device_kind in ('fridge', 'freezer')

),

flagged as (

    select
        *,
        temperature_c > limit_c as is_above,
        lag(temperature_c > limit_c) over (
            partition by device_id order by boot_number, sequence_number
        ) as was_above,
        lead(reading_at) over (
            partition by device_id order by boot_number, sequence_number
        ) as next_reading_at

    from valid

),

numbered as (

    select
        *,
        sum(case when is_above and not coalesce(was_above, false) then 1 else 0 end) over (
            partition by device_id
            order by boot_number, sequence_number
            rows between unbounded preceding and current row
        ) as excursion_number

    from flagged

),

starts as (

    select
        device_id,
        excursion_number,
        boot_number as start_boot_number,
        sequence_number as start_sequence_number,
        reading_at as started_at

    from numbered
    where is_above and not coalesce(was_above, false)

),

runs as (

    select
        device_id,
        excursion_number,
        max(store_code) as store_code,
        max(device_kind) as device_kind,
        max(limit_c) as limit_c,
        max(reading_at) as last_above_at,
        case
            when count(next_reading_at) = count(*) then max(next_reading_at)
        end as ended_at,
        max(temperature_c) as peak_temperature_c,
        count(*) as readings_above

    from numbered
    where is_above
    group by device_id, excursion_number

),

measured as (

    select
        runs.*,
        starts.start_boot_number,
        starts.start_sequence_number,
        starts.started_at,
        {{ dbt.datediff(
            'starts.started_at', 'coalesce(runs.ended_at, runs.last_above_at)', 'second'
        ) }} as duration_seconds

    from runs
    inner join starts
        on
            runs.device_id = starts.device_id
            and runs.excursion_number = starts.excursion_number

),

final as (

    select
        {{ generate_surrogate_key(['device_id', 'start_boot_number', 'start_sequence_number']) }}
            as excursion_key,
        device_id,
        store_code,
        device_kind,
        limit_c as limit_temperature_c,
        started_at,
        ended_at,
        cast(started_at as date) as excursion_date,
        ended_at is null as is_ongoing,
        cast(duration_seconds as {{ dbt.type_bigint() }}) as duration_seconds,
        {{ ratio_2dp('duration_seconds', '60') }} as duration_minutes,
        peak_temperature_c,
        cast(readings_above as {{ dbt.type_bigint() }}) as readings_above

    from measured
    where duration_seconds >= {{ var('iot_excursion_minutes', 15) }} * 60

)

select * from final
