{#-
    generate_surrogate_key: md5 hash of a list of SQL expressions, each cast to a
    string, nulls replaced by a marker, joined by '-'. Pass the source system first
    (a column or a quoted literal) so keys stay unique when a second system is
    unioned in. Built on dbt's cross-database macros (cast, type_string, concat, hash).
-#}
{% macro generate_surrogate_key(field_list) -%}
    {%- set fields = [] -%}
    {%- for field in field_list -%}
        {%- do fields.append(
            "coalesce(" ~ (dbt.cast(field, dbt.type_string()) | trim)
            ~ ", '_dbt_surrogate_key_null_')"
        ) -%}
        {%- if not loop.last -%}
            {%- do fields.append("'-'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(fields)) }}
{%- endmacro %}
