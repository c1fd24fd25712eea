{#-
    latest_by_key: the rows of an append-only dlt table (every load appended as it came,
    as dlt writes plain Parquet, which has no merge) that no later load replaced: a row
    is current unless a row with the same `key` has a greater `_dlt_load_id` (load ids
    are the load's start time, so they sort in load order). With the table's primary key
    this is what dlt's merge keeps; with a merge key (inventory: the file a row came from)
    a later load of the key replaces every row it had, as dlt's delete-insert does.
    Plain SQL (an anti-join), the same on DuckDB and Spark.
-#}
{% macro latest_by_key(relation, key) -%}
    {%- set key = [key] if key is string else key -%}
    select current_row.*
    from {{ relation }} as current_row
    where not exists (
        select 1
        from {{ relation }} as newer_row
        where
            {% for column in key -%}
                newer_row.{{ column }} = current_row.{{ column }} and
            {% endfor -%}
            newer_row._dlt_load_id > current_row._dlt_load_id
    )
{%- endmacro %}

{#-
    current_children: the rows of a dlt child table (a nested array of the documents of
    `parent`, directly under it) that belong to the parent's current version: dlt gives each
    loaded document a new `_dlt_id` and its children that id as `_dlt_parent_id`, so the
    children of replaced versions drop out with them. dlt adds `_dlt_root_id` (the same id
    here) only where it merges, not in the lake: with `add_root_id` it is added, so the
    models read the same columns from either.
-#}
{% macro current_children(relation, parent, add_root_id=false) -%}
    select
        child_row.*{% if add_root_id %},
        child_row._dlt_parent_id as _dlt_root_id{% endif %}
    from {{ relation }} as child_row
    where child_row._dlt_parent_id in (select parent_row._dlt_id from {{ parent }} as parent_row)
{%- endmacro %}
