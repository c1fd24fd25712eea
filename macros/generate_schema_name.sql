{#-
    Schemas are named by layer, exactly: staging, intermediate, marts, snapshots.
    dbt's default would prefix the target schema (main_staging); a warehouse that one
    team owns reads better with the plain layer names. Models without a custom
    schema land in the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
