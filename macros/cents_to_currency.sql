{#-
    cents_to_currency: integer cents to a currency amount, decimal(18, 2) by default.
    Money is integer cents at the edges (POS, payments); this is the one place it
    changes unit. Multiplying by 0.01 keeps the arithmetic decimal on every engine:
    dividing by 100 would go through a double on DuckDB.
-#}
{% macro cents_to_currency(column_name, precision=18, scale=2) -%}
    cast(({{ column_name }}) * 0.01 as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}
