{#-
    Change-driven incremental models (docs/incremental.md). Every raw row carries the id
    of the dlt load that last wrote it (`_dlt_load_id`); staging exposes it, and each
    intermediate and incremental model keeps, per row, the newest load id among the rows
    it was computed from (newest_load_id). An incremental run then rewrites the rows whose
    newest load id differs from the one the model's table holds for the same key, or
    whose key it does not hold yet (changed_since_last_build), whatever their business
    date, and deletes the keys its input no longer has (delete_keys_gone_from).
-#}

{#- The newest (greatest) of some load id columns, ignoring nulls (an outer join's
    missing side). dlt load ids are Unix timestamps as text of a fixed number of digits
    before the point, so text order is time order. -#}
{% macro newest_load_id(columns) -%}
    greatest(
        {%- for column in columns %}
        coalesce({{ column }}, ''){% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}


{#- Boolean SQL over the rows of `relation_alias` (a CTE of the model): true for a row
    whose key the model's table (`this`) lacks, or holds with another load id. Inside
    `{% if is_incremental() %}` only. -#}
{% macro changed_since_last_build(relation_alias, key_columns, load_id_column='_dlt_load_id') -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    not exists (
        select 1
        from {{ this }} as built
        where
            {%- for key in keys %}
            built.{{ key }} = {{ relation_alias }}.{{ key }} and
            {%- endfor %}
            built.{{ load_id_column }} = {{ relation_alias }}.{{ load_id_column }}
    )
{%- endmacro %}


{#- A post-hook statement: delete from the model's table the keys its input no longer
    has (a line dropped from a re-sent export). delete+insert only replaces keys that are
    still there. Nothing on a full rebuild, nor on Spark (rebuilt in full, no delete on
    Parquet). -#}
{% macro delete_keys_gone_from(input_relation, key_columns) -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    {%- if is_incremental() and target.type != 'spark' -%}
        delete from {{ this }}
        where not exists (
            select 1
            from {{ input_relation }} as current_input
            where
                {%- for key in keys %}
                current_input.{{ key }} = {{ this }}.{{ key }}{% if not loop.last %} and{% endif %}
                {%- endfor %}
        )
    {%- else -%}
        select 1 as nothing_to_delete
    {%- endif -%}
{%- endmacro %}
