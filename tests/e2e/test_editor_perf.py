"""A 300-node graph loads, pans and drags (issue 6, Performance).

The graph is stored through the API and opened by its link, as a person would share it; a pan
at the fitted zoom (text hidden), a zoom to ~1 and a pan with every label drawn, and a node drag
run through real mouse input, each checked to take effect, while the page keeps drawing frames
(tests/e2e/perf.py `editor_scenario`). How smoothly (frame times against the idle page, load
times) is measured by tests/bench/bench_editor.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from perf import editor_scenario
from playwright.sync_api import Page

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


def test_300_node_graph_loads_pans_and_drags(live_server, page: Page, console_errors):
    figures = editor_scenario(page, live_server.url)
    (RESULTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "screenshots" / "editor-300-nodes.png"))
    for name in ("pan_fitted", "pan_detail", "node_drag"):
        assert figures[name]["frames"] >= 3, f"{name}: no frames drawn ({figures[name]})"
    assert console_errors == []
