"""The browser the docs-site and dashboard tests use starts and renders a page."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path


def test_chromium_renders_a_local_page(chromium, tmp_path: Path, artifacts: Path) -> None:
    (tmp_path / "index.html").write_text("<h1 id='t'>myPizza</h1>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = chromium.new_page()
        page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
        assert page.text_content("#t") == "myPizza"
        page.close()
    finally:
        server.shutdown()
