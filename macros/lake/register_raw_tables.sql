{#-
    register_raw_tables: when the raw data is read from the lake (always on Spark; on
    DuckDB when MYPIZZA_RAW=lake), registers every source table of the project as a view
    over the Parquet files dlt wrote, <lake>/<schema>/<table>/*.parquet, that keeps the
    latest version of each row (latest_by_key). Called by the on-run-start hook, so a
    build needs nothing before it; the models read source() as they always do.

    Beside each view, `<table>__lake_files` holds every row of the folder: on DuckDB a view
    over read_parquet (an s3:// lake needs the httpfs extension and a DuckDB secret for the
    bucket, docs/scaling-out.md), on Spark an external table (dropping it leaves the files
    alone), dropped and registered again on each run so that new files and columns are seen. Does nothing when the raw data is in the
    DuckDB warehouse (the default: dlt merged it there already).
-#}
{% macro register_raw_tables() -%}
    {%- if execute and (target.type == 'spark' or var('raw_from') | trim == 'lake') -%}
        {%- set lake = lake_url() -%}
        {%- set sources = [] -%}
        {%- for source in graph.sources.values() if source.package_name == project_name -%}
            {%- do sources.append(source) -%}
        {%- endfor -%}
        {#- parents first: a child table's view reads its parent's -#}
        {%- set registered = {} -%}
        {%- set schemas = [] -%}
        {%- for source in sources if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
            {%- do run_query('create schema if not exists ' ~ source.schema) -%}
        {%- endfor -%}
        {#- Spark cannot register a folder that does not exist (yet): which tables hold data
            is read from dlt's own record of the schema in the lake -#}
        {%- set seen = {} -%}
        {%- if target.type == 'spark' -%}
            {%- for schema in schemas -%}
                {%- do seen.update({schema: _lake_tables_with_data(lake, schema)}) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- for pass in ['parents', 'children'] -%}
            {%- for source in sources -%}
                {%- set lake_config = source.config.meta.get('lake', {}) -%}
                {%- if (pass == 'children') == ('parent' in lake_config) -%}
                    {%- set view = _register_lake_table(source, lake, lake_config, registered, seen) -%}
                    {%- if view is not none -%}
                        {%- do registered.update({source.source_name ~ '.' ~ source.name: view}) -%}
                    {%- endif -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {#- a hook's statements are committed by dbt; `dbt run-operation` rolls back -#}
        {%- if flags.WHICH == 'run-operation' -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The lake's URL: DESTINATION__LAKE__BUCKET_URL (dlt's own config variable for it), else
    the folder `lake` beside the warehouse file, as ingestion/destinations.py chooses. -#}
{% macro lake_url() -%}
    {%- set warehouse = env_var('MYPIZZA_WAREHOUSE', 'warehouse/mypizza.duckdb') -%}
    {%- set default = (warehouse.rsplit('/', 1)[0] if '/' in warehouse else '.') ~ '/lake' -%}
    {%- set url = (env_var('DESTINATION__LAKE__BUCKET_URL', '') | trim or default).rstrip('/') -%}
    {%- if url.startswith('file://') -%}
        {%- set url = url[7:] -%}
    {%- endif -%}
    {%- if target.type == 'spark' and '://' not in url and not url.startswith('/') -%}
        {{ exceptions.raise_compiler_error(
            "the lake '" ~ url ~ "' is a relative path, which the Spark cluster would read "
            ~ "from its own working directory: set DESTINATION__LAKE__BUCKET_URL to an "
            ~ "absolute path (or MYPIZZA_WAREHOUSE, beside which the lake is by default)"
        ) }}
    {%- endif -%}
    {{- return(url) -}}
{%- endmacro %}

{#- The tables of a raw schema in the lake that dlt has written data to, from the newest
    version of the schema dlt keeps beside them (`_dlt_version`); Spark only. -#}
{% macro _lake_tables_with_data(lake, schema) -%}
    {%- set versions = run_query(
        "select `schema` from json.`" ~ lake ~ "/" ~ schema ~ "/_dlt_version` "
        ~ "order by version desc limit 1"
    ) -%}
    {%- if versions.rows | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "the lake " ~ lake ~ " has no " ~ schema ~ ": load the source first (MYPIZZA_RAW=lake "
            ~ "mypizza ingest ...)"
        ) }}
    {%- endif -%}
    {%- set tables = fromjson(versions.columns[0].values()[0])['tables'] -%}
    {%- set found = [] -%}
    {%- for name, table in tables.items() if (table.get('x-normalizer') or {}).get('seen-data') -%}
        {%- do found.append(name) -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}

{% macro _register_lake_table(source, lake, lake_config, registered, seen) -%}
    {%- set location = lake ~ '/' ~ source.schema ~ '/' ~ source.identifier -%}
    {%- set view = api.Relation.create(
        schema=source.schema, identifier=source.identifier, type='view'
    ) -%}
    {%- set files = api.Relation.create(
        schema=source.schema, identifier=source.identifier ~ '__lake_files', type='table'
    ) -%}
    {%- if target.type == 'spark' -%}
        {%- if source.identifier not in seen[source.schema] -%}
            {{- log('lake: nothing at ' ~ location ~ ' yet; ' ~ view ~ ' not registered') -}}
            {{- return(none) -}}
        {%- endif -%}
        {%- do run_query('drop table if exists ' ~ files) -%}
        {%- do run_query(
            'create table ' ~ files ~ " using parquet options (mergeSchema 'true') location '"
            ~ location ~ "'"
        ) -%}
    {%- else -%}
        {%- set pattern = location ~ '/*.parquet' -%}
        {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
        {%- if found == 0 -%}
            {#- not loaded yet (a dlt child table appears with its first element):
                no view, and dlt_child_source reads an empty result instead -#}
            {{- log('lake: nothing at ' ~ location ~ ' yet; ' ~ view ~ ' not registered') -}}
            {{- return(none) -}}
        {%- endif -%}
        {%- do run_query(
            'create or replace view ' ~ files ~ " as select * from read_parquet('" ~ pattern
            ~ "', union_by_name = true)"
        ) -%}
    {%- endif -%}
    {%- set files_sql = files | string -%}
    {%- if 'parent' in lake_config -%}
        {%- set parent = registered.get(source.source_name ~ '.' ~ lake_config.parent) -%}
        {%- if parent is none -%}
            {{ exceptions.raise_compiler_error(
                'source ' ~ source.source_name ~ '.' ~ source.name ~ ': its lake parent '
                ~ lake_config.parent ~ ' is not a registered source table of ' ~ source.source_name
            ) }}
        {%- endif -%}
        {%- set columns = adapter.get_columns_in_relation(files) | map(attribute='name') | list -%}
        {%- set select_sql = current_children(files_sql, parent, '_dlt_root_id' not in columns) -%}
    {%- elif 'key' in lake_config -%}
        {%- set select_sql = latest_by_key(files_sql, lake_config.key) -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            'source ' ~ source.source_name ~ '.' ~ source.name ~ ": no meta.lake.key (the "
            ~ "columns dlt merges it on) nor meta.lake.parent (a dlt child table): the lake "
            ~ "appends every version of a row, and the view needs to know which is current"
        ) }}
    {%- endif -%}
    {%- do run_query('create or replace view ' ~ view ~ ' as ' ~ select_sql) -%}
    {{- log('lake: registered ' ~ view ~ ' over ' ~ location) -}}
    {{- return(view) -}}
{%- endmacro %}
