{#-
    MetricFlow's time spine: one row per day between the fixed bounds of the calendar
    (vars dim_dates_start_date, dim_dates_end_date). Unlike dim_dates it is not cut to
    the days with orders, so metrics over any period (reviews, waste) find their days.
    Fixed bounds keep compilation free of queries, as in dim_dates.
-#}
with

date_spine as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('dim_dates_start_date') ~ "' as date)",
        "cast('" ~ var('dim_dates_end_date') ~ "' as date)"
    ) }}

),

final as (

    select cast(date_day as date) as date_day

    from date_spine

)

select * from final
