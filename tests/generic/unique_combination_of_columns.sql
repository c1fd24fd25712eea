{#-
    unique_combination_of_columns: the primary-key test of a model whose key is
    several columns. Fails with one row per duplicated combination and how often
    it occurs.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

validation_errors as (

    select
        {%- for column_name in combination_of_columns %}
        {{ column_name }},
        {%- endfor %}
        count(*) as n_rows

    from {{ model }}
    group by
        {%- for column_name in combination_of_columns %}
        {{ column_name }}{{ "," if not loop.last }}
        {%- endfor %}
    having count(*) > 1

)

select * from validation_errors

{% endtest %}
