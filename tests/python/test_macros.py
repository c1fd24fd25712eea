"""The project's macros and generic tests, run by dbt on DuckDB and checked against Python.

Every check is one row of a single `dbt show --inline` query (one dbt start-up for them
all) on the profile's `lint` target, an in-memory DuckDB: macros need no warehouse. The
generic tests (tests/generic/) are macros too (`test_<name>`): each is run on a small
inline relation and must return exactly the offending rows. The incremental filter
(changed_since_last_build) reads the model's own table: the unit test of `fct_orders`
(models/marts/sales/_sales__models.yml) covers it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest
from conftest import Env

VALUES = "(select * from (values (5), (-1), (11), (null), (0), (10)) as v (x))"
OUT_OF_RANGE = (
    "(select string_agg(cast(out_of_range_value as varchar), ',' order by out_of_range_value) "
    "from ({{{{ test_accepted_range('" + VALUES + "', 'x', {}) }}}}) as t)"
)
CHECKS = {
    # money: integer cents to decimal(18, 2), exactly
    "cents": "cast({{ cents_to_currency('12345') }} as varchar)",
    "cents_negative": "cast({{ cents_to_currency('-5') }} as varchar)",
    "cents_expression": "cast({{ cents_to_currency('2 * 199 - 1') }} as varchar)",
    "cents_scale_3": "cast({{ cents_to_currency('1', 18, 3) }} as varchar)",
    "cents_type": "typeof({{ cents_to_currency('1') }})",
    # surrogate keys: md5 of the parts as strings joined by '-', nulls as a marker
    "key": "{{ generate_surrogate_key([\"'mypizza_pos'\", '42']) }}",
    "key_null": "{{ generate_surrogate_key([\"'mypizza_pos'\", 'null', \"'x'\"]) }}",
    # quarter hours: the start of the quarter a timestamp falls in; and the local hour of
    # a quarter's start is the local hour of every instant in it, across daylight-saving
    # changes and in zones 30 and 45 minutes off the hour (rpt_sales_by_hour relies on it)
    "quarter": "cast({{ quarter_hour(\"timestamp '2026-03-29 01:44:59.999'\") }} as varchar)",
    "quarter_start": "cast({{ quarter_hour(\"timestamp '2026-03-29 01:45:00'\") }} as varchar)",
    "quarter_local_hour": (
        "(select cast(count(*) filter (where extract(hour from "
        "{{ utc_to_local_timestamp('ts', 'tz') }}) <> extract(hour from "
        "{{ utc_to_local_timestamp(quarter_hour('ts'), 'tz') }})) as varchar) "
        "|| ' of ' || cast(count(*) as varchar) from (select generate_series as ts, tz "
        "from generate_series(timestamp '2026-03-07', timestamp '2026-04-06', "
        "interval 7 minute), (values ('Europe/Rome'), ('America/St_Johns'), "
        "('Asia/Kathmandu'), ('Australia/Lord_Howe')) as zones (tz)) as instants)"
    ),
    # date spine (dbt.date_spine, which dim_dates uses): start included, end excluded
    "spine": (
        "(select string_agg(cast(cast(date_day as date) as varchar), ',' order by date_day) "
        "from ({{ dbt.date_spine('day', \"cast('2026-02-27' as date)\", "
        "\"cast('2026-03-02' as date)\") }}) as spine)"
    ),
    # accepted_range: the values out of range, nulls never
    "range": OUT_OF_RANGE.format("min_value=0, max_value=10"),
    "range_exclusive": OUT_OF_RANGE.format("min_value=0, max_value=10, inclusive=false"),
    "range_min_only": OUT_OF_RANGE.format("min_value=0"),
    # not_stale: the latest value at most max_age units behind the reference
    "stale_2_days_max_1": "(select count(*) from ({{ test_not_stale("
    "\"(select date '2026-03-01' as d union all select date '2026-02-01')\", 'd', max_age=1, "
    "reference_model=\"(select date '2026-03-03' as d)\") }}) as t)",
    "stale_2_days_max_2": "(select count(*) from ({{ test_not_stale("
    "\"(select date '2026-03-01' as d)\", 'd', max_age=2, "
    "reference_model=\"(select date '2026-03-03' as d)\") }}) as t)",
    "stale_other_column_hours": "(select count(*) from ({{ test_not_stale("
    "\"(select timestamp '2026-03-01 10:00' as t)\", 't', max_age=3, datepart='hour', "
    "reference_model=\"(select timestamp '2026-03-01 14:00' as u)\", "
    "reference_column='u') }}) as t)",
    "stale_empty": "(select count(*) from ({{ test_not_stale("
    "\"(select cast(null as date) as d)\", 'd', max_age=1, "
    "reference_model=\"(select date '2026-03-03' as d)\") }}) as t)",
    "stale_against_clock": "(select count(*) from ({{ test_not_stale("
    "\"(select current_date as d)\", 'd', max_age=1) }}) as t)",
}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _days(start: date, end: date) -> str:
    return ",".join(str(start + timedelta(n)) for n in range((end - start).days))


EXPECTED = {
    "cents": "123.45",
    "cents_negative": "-0.05",
    "cents_expression": "3.97",
    "cents_scale_3": "0.010",
    "cents_type": "DECIMAL(18,2)",
    "key": _md5("mypizza_pos-42"),
    "key_null": _md5("mypizza_pos-_dbt_surrogate_key_null_-x"),
    "quarter": "2026-03-29 01:30:00",
    "quarter_start": "2026-03-29 01:45:00",
    # every 7 minutes of 30 days (both ends included) in 4 zones, none in another hour
    "quarter_local_hour": f"0 of {4 * (30 * 24 * 60 // 7 + 1)}",
    "spine": _days(date(2026, 2, 27), date(2026, 3, 2)),
    "range": "-1,11",
    "range_exclusive": "-1,0,10,11",
    "range_min_only": "-1",
    "stale_2_days_max_1": "1",
    "stale_2_days_max_2": "0",
    "stale_other_column_hours": "1",
    "stale_empty": "1",
    "stale_against_clock": "0",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = Env(tmp_path_factory.mktemp("macros"))
    query = "\nunion all\n".join(
        f"select '{name}' as check_name, cast({sql} as varchar) as actual"
        for name, sql in CHECKS.items()
    )
    shown = env.dbt(
        "--quiet", "show", "--target", "lint", "--output", "json", "--limit", "100",
        "--inline", query,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout[-5000:] + shown.stderr[-2000:]
    rows = json.loads(shown.stdout[shown.stdout.index("{") :])["show"]
    return {row["check_name"]: row["actual"] for row in rows}


@pytest.mark.parametrize("name", list(CHECKS))
def test_macro(results: dict[str, str], name: str) -> None:
    assert results[name] == EXPECTED[name]
