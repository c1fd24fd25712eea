{#-
    recipe_use: what one unit of each product (sku) takes of each ingredient, in the
    ingredient's stock unit (the recipe's grams as kilograms, and so on). The body of a
    CTE; its arguments are the model's own import CTEs of the two seeds.
-#}
{% macro recipe_use(recipes='recipes', ingredients='ingredients') -%}
    select
        {{ recipes }}.sku,
        {{ recipes }}.ingredient_code,
        cast(
            {{ recipes }}.quantity * {{ ingredients }}.units_per_recipe_unit as decimal(18, 6)
        ) as quantity_per_unit

    from {{ recipes }}
    inner join {{ ingredients }}
        on {{ recipes }}.ingredient_code = {{ ingredients }}.ingredient_code
{%- endmacro %}
