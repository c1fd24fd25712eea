{#-
    register_raw_tables: on Spark, registers every source table of the project as an
    external Parquet table over <spark_raw_path>/<schema>/<table>/, where the raw schemas
    of the DuckDB warehouse were exported (`python -m mypizza.spark export`). Called by
    the on-run-start hook, so `dbt build --target spark` needs nothing before it.
    Does nothing on other engines, or when spark_raw_path is empty: on a real cluster the
    raw tables are already in the metastore, written by the ingestion.
    A table is dropped and registered again on each run, so a new export (new columns)
    is read as it is; dropping an external table leaves its files alone.
-#}
{% macro register_raw_tables() -%}
    {%- set raw_path = var('spark_raw_path', '') | trim -%}
    {%- if execute and target.type == 'spark' and raw_path -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() if source.package_name == project_name -%}
            {%- if source.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- set relation = api.Relation.create(
                schema=source.schema, identifier=source.identifier, type='table'
            ) -%}
            {%- set location = raw_path.rstrip('/') ~ '/' ~ source.schema ~ '/' ~ source.identifier -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do run_query(
                'create table ' ~ relation ~ " using parquet location '" ~ location ~ "'"
            ) -%}
            {{- log('registered ' ~ relation ~ ' over ' ~ location) -}}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
