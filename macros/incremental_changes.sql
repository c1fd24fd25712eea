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
    {{ delete_rows_gone_from([[input_relation, key_columns]]) }}
{%- endmacro %}


{#- The same for a model fed by several inputs, each with its own key (a union of
    source systems): `inputs` is a list of [relation, key columns]; a row stays while
    any input has its key. -#}
{% macro delete_rows_gone_from(inputs) -%}
    {%- if is_incremental() and target.type != 'spark' -%}
        delete from {{ this }}
        where
        {%- for input_relation, key_columns in inputs %}
            {%- set keys = [key_columns] if key_columns is string else key_columns %}
            not exists (
                select 1
                from {{ input_relation }} as current_input
                where
                    {%- for key in keys %}
                    current_input.{{ key }} = {{ this }}.{{ key }}{% if not loop.last %} and{% endif %}
                    {%- endfor %}
            ){% if not loop.last %} and{% endif %}
        {%- endfor %}
    {%- else -%}
        select 1 as nothing_to_delete
    {%- endif -%}
{%- endmacro %}


{#- The change-driven fast path (docs/incremental.md). The record of the last successful
    night (`<warehouse folder>/prod-state/nightly.json`, mypizza/nightly.py) holds, per raw
    dataset, the commit time of the newest load that night consumed: everything a
    dataset committed since is what the models have not seen. Read when the model runs,
    not passed as a var (a var that changes every night would cost dbt a full parse).
    Production on DuckDB only: a dev file's tables are not where production's are. The
    var `changes_from_loads: false` turns the fast path off (unit tests of the fallback). -#}
{% macro nightly_loads_since(schema) -%}
    {%- if execute and target.name == 'prod' and target.type == 'duckdb' and var('changes_from_loads', true) -%}
        {%- set folder = target.path.rsplit('/', 1)[0] if '/' in target.path else '.' -%}
        {%- set record = folder ~ '/prod-state/nightly.json' -%}
        {%- set found = run_query(
            "select json_extract_string(content, '$.loads." ~ schema ~ "') "
            ~ "from read_text('" ~ record ~ "')"
        ) if run_query("select count(*) from glob('" ~ record ~ "')").columns[0].values()[0] else none -%}
        {%- if found and found.columns[0].values()[0] -%}
            {{ found.columns[0].values()[0] }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The raw dataset (schema) of a dbt source, found in the graph so that the model gains
    no lineage edge to the source. -#}
{% macro source_schema(source_name) -%}
    {%- set found = graph.get('sources', {}).values() | selectattr('source_name', 'equalto', source_name) | list -%}
    {{ found[0].schema if found else '' }}
{%- endmacro %}


{#- The relation name of a dbt source table, looked up in the graph: the fast path reads
    which keys a load touched in the raw table itself (a row quarantined since is gone
    from staging), without a lineage edge from the model to the source. -#}
{% macro source_relation_name(source_name, table_name) -%}
    {%- set found = graph.get('sources', {}).values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name) | list -%}
    {{ found[0].relation_name if found else '' }}
{%- endmacro %}


{#- SQL selecting (order_id, source_system) of the POS orders whose rows in the raw tables
    `table_names` (of source `pos`) one of `new_loads` wrote: raw, not staging, so a row
    quarantined since it was loaded still marks its order. -#}
{% macro pos_orders_written_by(table_names, new_loads) -%}
    {%- for table_name in table_names %}
    select order_id, '{{ var("pos_source_system") }}' as source_system
    from {{ source_relation_name('pos', table_name) }}
    where _dlt_load_id in {{ new_loads }}
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{#- The ids of the loads dbt source `source_name`'s dataset committed since the last
    successful night, as a SQL list (`('id', ...)`, `(null)` when there is none), or ''
    when that is not known (a first night, a full rebuild, a dev build, Spark): the model
    then compares its whole input with its table (changed_since_last_build). Commit
    times, not load ids: a load resumed after a crash keeps its older id. A literal list,
    not a subquery, so DuckDB filters the raw scans with it. -#}
{% macro loads_since_last_build(source_name) -%}
    {%- if execute and is_incremental() -%}
        {%- set schema = source_schema(source_name) | trim -%}
        {%- set since = nightly_loads_since(schema) | trim if schema else '' -%}
        {%- if since -%}
            {%- set ids = run_query(
                "select load_id from " ~ target.database ~ "." ~ schema ~ "._dlt_loads "
                ~ "where status = 0 and strftime(inserted_at, '%Y-%m-%dT%H:%M:%S.%f') > '"
                ~ since ~ "' order by load_id"
            ).columns[0].values() -%}
            ({% for id in ids %}'{{ id }}'{% if not loop.last %}, {% endif %}{% else %}null{% endfor %})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- True when the models `model_names` (an upstream chain) all run in this very
    invocation on the loads of every one of `source_names` (loads_since_last_build): then
    the rows they rewrote are exactly what changed since the last successful night, and
    carry this build's invocation id. -#}
{% macro runs_on_the_loads(model_names, source_names) -%}
    {%- set ns = namespace(ok=execute and is_incremental() and var('changes_from_loads', true)) -%}
    {%- for model_name in model_names if ns.ok -%}
        {%- set ids = graph.get('nodes', {}).values() | selectattr('resource_type', 'equalto', 'model') | selectattr('name', 'equalto', model_name) | map(attribute='unique_id') | list -%}
        {%- set ns.ok = ids and ids[0] in selected_resources -%}
    {%- endfor -%}
    {%- for source_name in source_names if ns.ok -%}
        {%- set schema = source_schema(source_name) | trim -%}
        {%- set ns.ok = schema and (nightly_loads_since(schema) | trim) -%}
    {%- endfor -%}
    {{ 'true' if ns.ok else '' }}
{%- endmacro %}


{#- Boolean SQL: the rows of `relation_alias` (an incremental intermediate model) that model
    rewrote in this build (it stamps them with the invocation id). -#}
{% macro rewritten_in_this_build(relation_alias) -%}
    {{ relation_alias }}._dbt_invocation_id = '{{ invocation_id }}'
{%- endmacro %}


{#- Boolean SQL: the rows of `relation_alias` (the last of the incremental models
    `model_names`, fed by `source_names`) this run must write: the rows it rewrote in this
    build when the chain ran on the loads (runs_on_the_loads), otherwise the rows whose
    load id differs from the table's (changed_since_last_build). Inside
    `{% if is_incremental() %}`. -#}
{% macro changed_in_input(relation_alias, key_columns, model_names, source_names) -%}
    {%- if runs_on_the_loads(model_names, source_names) | trim -%}
        {{ rewritten_in_this_build(relation_alias) }}
    {%- else -%}
        {{ changed_since_last_build(relation_alias, key_columns) }}
    {%- endif -%}
{%- endmacro %}
