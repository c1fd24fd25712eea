-- Impossible stock: nobody can count less than nothing on a shelf. A negative count is a
-- typing error in the store's inventory system (or a sign flipped on the way).
-- Returns every count below zero, with the file it came from.
with

stock_counts as (

    select * from {{ ref('stg_inventory__stock_counts') }}

),

final as (

    select
        store_code,
        count_date,
        ingredient_code,
        counted_quantity,
        file_path,
        file_row_number

    from stock_counts
    where counted_quantity < 0

)

select * from final
