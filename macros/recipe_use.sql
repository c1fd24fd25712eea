{#-
    recipe_use: what one unit of each product (sku) takes of each ingredient, in the
    ingredient's stock unit (the recipe's grams as kilograms, and so on). The body of a
    CTE: `recipe_use as ({{ recipe_use(ref('recipes'), ref('ingredients')) }})`.
-#}
{% macro recipe_use(recipes, ingredients) -%}
    select
        recipes.sku,
        recipes.ingredient_code,
        cast(
            recipes.quantity * ingredients.units_per_recipe_unit as decimal(18, 6)
        ) as quantity_per_unit

    from {{ recipes }} as recipes
    inner join {{ ingredients }} as ingredients
        on recipes.ingredient_code = ingredients.ingredient_code
{%- endmacro %}
