{#-
    franchise_file_lineage: the columns every franchise staging model carries to say where a
    row came from: the export file, its line, when the file was written (UTC), and the dlt
    load that last wrote the row. The last items of a staging model's select list.
-#}
{% macro franchise_file_lineage() -%}
    file_name,
    file_line_number,
    {{ as_utc_timestamp('file_modified_at') }} as file_modified_at,
    _dlt_load_id
{%- endmacro %}
