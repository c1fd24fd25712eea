"""The dbt docs site, used as a person uses it: served on 127.0.0.1 by a real HTTP server,
opened in headless Chromium, `fct_orders` looked up, its description and columns read, its
lineage graph opened and its upstream sources seen there. The single-file static site
(`static_index.html`, what `mypizza run` hands out) is opened the same way.

The built world's target folder holds what `mypizza run` generated (index.html,
manifest.json, catalog.json, static_index.html). What the page must show comes from
elsewhere: the description from the model's YAML, the columns from the warehouse table, the
upstream sources by walking the models' `source()`/`ref()` calls in the SQL files.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Env

MODEL = "fct_orders"


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 for `folder`; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def model_yaml(name: str) -> dict:
    for path in (REPO / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []) or []:
            if model.get("name") == name:
                return model
    raise AssertionError(f"{name} is not documented in any models/**/*.yml")


def upstream_sources(name: str) -> set[str]:
    """`source.mypizza.<source>.<table>` of every source `name` reads, through its refs."""
    sql = {p.stem: p.read_text() for p in (REPO / "models").rglob("*.sql")}
    seen: set[str] = set()
    sources: set[str] = set()
    todo = [name]
    while todo:
        model = todo.pop()
        if model in seen or model not in sql:
            continue  # a seed or snapshot: no source behind it in this walk
        seen.add(model)
        text = sql[model]
        sources |= {
            f"source.mypizza.{s}.{t}"
            for s, t in re.findall(r"source\(\s*'(\w+)'\s*,\s*'(\w+)'\s*\)", text)
        }
        todo += re.findall(r"ref\(\s*'(\w+)'\s*\)", text)
    return sources


def words(text: str) -> str:
    return " ".join(text.split())


def open_model(page, url: str) -> None:
    page.goto(f"{url}#!/model/model.mypizza.{MODEL}")
    page.wait_for_selector(f"h1:has-text('{MODEL}')", timeout=60_000)


def test_docs_site_shows_fct_orders_and_its_lineage(
    built_world: Env, chromium, artifacts: Path, tmp_path: Path
) -> None:
    target = built_world.target
    assert (target / "index.html").exists() and (target / "catalog.json").exists()
    description = words(model_yaml(MODEL)["description"]).replace("`", "")
    columns = [
        c
        for (c,) in built_world.query(
            "select column_name from information_schema.columns "
            f"where table_schema = 'marts' and table_name = '{MODEL}' order by ordinal_position",
            published=True,
        )
    ]
    sources = upstream_sources(MODEL)
    assert {"source.mypizza.pos.orders", "source.mypizza.franchise.orders"} <= sources

    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    try:
        with serve(target) as url:
            open_model(page, f"{url}/index.html")
            body = words(page.inner_text("body"))
            assert description in body
            # The Columns section lists every column of the table in the warehouse.
            section = page.locator("section:has(#columns)").first.inner_text()
            missing = [c for c in columns if not re.search(rf"\b{c}\b", section)]
            assert len(columns) >= 10 and not missing, f"columns not shown: {missing}"

            # The lineage graph, opened with the button a person clicks, then full screen.
            page.click("a[title='View Lineage Graph']")
            page.click("[ng-click='showExpanded()']")
            page.wait_for_function(
                "() => { const g = angular.element(document.body).injector().get('graph');"
                " return g.graph_element && g.expanded && g.graph_element.nodes().length > 0; }",
                timeout=60_000,
            )
            page.wait_for_timeout(1500)  # let the layout settle for the screenshot
            page.mouse.move(5, 500)  # no tooltip over the graph
            shown_nodes = set(
                page.evaluate(
                    "() => angular.element(document.body).injector().get('graph')"
                    ".graph_element.nodes().filter(n => n.visible()).map(n => n.id())"
                )
            )
            assert f"model.mypizza.{MODEL}" in shown_nodes
            missing = sorted(sources - shown_nodes)
            assert not missing, f"upstream sources not in the lineage graph: {missing}"
            page.screenshot(path=str(artifacts / "docs_lineage_fct_orders.png"))

        # The static site is one file a person opens from disk, with nothing beside it.
        static = target / "static_index.html"
        if not static.exists():
            pytest.fail("static_index.html missing: `mypizza run` generates it (--static)")
        alone = tmp_path / "static_index.html"
        shutil.copyfile(static, alone)
        open_model(page, alone.as_uri())
        assert description in words(page.inner_text("body"))
    finally:
        page.close()
