{#-
    dlt_child_source: a dlt child table (a nested array of the source's documents) as a
    relation to select from, or, while dlt has not created it yet, an empty result with
    the given columns. dlt creates a child table only once some document has an element
    in that array (a world's first day has no review replies nor edits yet), and a build
    must not fail on that. source() is always called, so lineage and docs show the source.
    `columns` maps each column the model reads to its type (use dbt.type_* macros).
-#}
{% macro dlt_child_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        (
            select
            {%- for name, data_type in columns.items() %}
                cast(null as {{ data_type }}) as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
            where 1 = 0
        ) as {{ table_name }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
