"""The project's own dbt-bouncer checks (dbt-bouncer.yml, custom_checks_dir)."""

from dbt_bouncer.check_framework.decorator import check, fail


@check(code="MP001")
def check_model_has_primary_key_test(model, ctx):
    """A model has a primary key test: one column tested `unique` and `not_null`, or the
    project's `unique_combination_of_columns` test (its columns are the key).

    Receives:
        model (ModelNode): The ModelNode object to check.
    """
    unique: set[str] = set()
    not_null: set[str] = set()
    for test in ctx.tests_by_attached_node.get(model.unique_id, []):
        meta = getattr(test, "test_metadata", None)
        name = getattr(meta, "name", None)
        column = getattr(test, "column_name", None)
        if name == "unique_combination_of_columns":
            return
        if name == "unique" and column:
            unique.add(column)
        if name == "not_null" and column:
            not_null.add(column)
    if not unique & not_null:
        fail(
            f"`{model.name}` has no primary key test: no column is tested both `unique` and "
            "`not_null`, and no `unique_combination_of_columns` test."
        )


@check(code="MP002")
def check_source_freshness_or_exempt(source, *, exempt: dict[str, str] | None = None):
    """A source table has a freshness (warn_after or error_after), or is listed in `exempt`
    (`source.table: why`; e.g. a child table that changes with its parent, a reference
    table that rarely changes) or says why in its `meta.freshness_exempt`.

    Parameters:
        exempt (dict[str, str] | None): `source.table` -> why it has no freshness.

    Receives:
        source (SourceNode): The SourceNode object to check.
    """
    freshness = source.freshness
    for rule in (getattr(freshness, "warn_after", None), getattr(freshness, "error_after", None)):
        if rule is not None and rule.count is not None and rule.period is not None:
            return
    display = f"{source.source_name}.{source.name}"
    meta = getattr(source, "meta", None) or {}
    reason = (exempt or {}).get(display) or meta.get("freshness_exempt")
    if not (isinstance(reason, str) and reason.strip()):
        fail(f"`{display}` has no freshness and no reason why (exempt list or meta).")
