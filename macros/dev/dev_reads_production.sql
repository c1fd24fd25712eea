{% macro dev_reads_production() %}
    {#-
        The dev target defers to production by default (docs/analyst-guide.md, "Editing a
        model"). Before a run on dev, every model, seed and snapshot that the run does not
        build and the analyst's file does not hold becomes a view of production's relation in
        the read-only attachment of the published copy. So `dbt build --target dev -s
        fct_orders+` works as typed on a fresh file: parents, unit-test inputs and the
        relations that tests compare with all resolve to production. A view of production
        that the run does build is dropped first, and the run builds it for real. The
        analyst's own builds are never replaced. With --defer (slim CI) dbt defers by
        itself, so this does nothing.
    -#}
    {%- if execute and target.name == 'dev' and not invocation_args_dict.get('defer') -%}
        {%- set prod = graph.sources.values() | map(attribute='database') | unique | list -%}
        {%- if prod | length != 1 or prod[0] in (none, target.database) -%}
            {{ exceptions.raise_compiler_error(
                "dev target: no single production catalog among the sources' databases "
                ~ prod ~ " (profiles.yml attaches production's published copy)"
            ) }}
        {%- endif -%}
        {%- set prod = prod[0] -%}
        {%- set marker = 'dbt dev target: a view of production until built here' -%}
        {%- set found = run_query(
            "select table_catalog, table_schema, table_name from information_schema.tables"
            ~ " where table_catalog in ('" ~ prod ~ "', '" ~ target.database ~ "')"
        ) -%}
        {%- set here, there = [], [] -%}
        {%- for row in found.rows -%}
            {%- do (here if row[0] == target.database else there).append(row[1] ~ '.' ~ row[2]) -%}
        {%- endfor -%}
        {%- set views = run_query(
            "select schema_name || '.' || view_name from duckdb_views()"
            ~ " where database_name = '" ~ target.database ~ "' and comment = '" ~ marker ~ "'"
        ).columns[0].values() -%}
        {%- set statements, created, dropped = [], [], [] -%}
        {%- for node in graph.nodes.values()
            if node.resource_type in ('model', 'seed', 'snapshot')
            and node.config.materialized != 'ephemeral'
            and node.database == target.database -%}
            {%- set name = node.schema ~ '.' ~ node.alias -%}
            {%- set relation = api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.alias, type='view'
            ) -%}
            {%- if node.unique_id in selected_resources -%}
                {%- if name in views -%}
                    {%- do statements.append('drop view ' ~ relation) -%}
                    {%- do dropped.append(relation) -%}
                {%- endif -%}
            {%- elif name not in here and name in there -%}
                {%- do statements.append('create schema if not exists ' ~ relation.without_identifier()) -%}
                {%- do statements.append(
                    'create view ' ~ relation ~ ' as select * from '
                    ~ relation.incorporate(path={'database': prod})
                ) -%}
                {%- do statements.append("comment on view " ~ relation ~ " is '" ~ marker ~ "'") -%}
                {%- do created.append(relation) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if statements -%}
            {%- do run_query(statements | join(';\n')) -%}
            {%- for relation in dropped -%}
                {%- do adapter.cache_dropped(relation) -%}
            {%- endfor -%}
            {%- for relation in created -%}
                {%- do adapter.cache_added(relation) -%}
            {%- endfor -%}
            {{ log("dev target: " ~ created | length ~ " relation(s) read from production (" ~ prod
                ~ "), " ~ dropped | length
                ~ " view(s) of production replaced by this run's builds", info=true) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
