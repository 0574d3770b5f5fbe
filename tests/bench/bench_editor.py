"""The editor with a 300-node graph, in a real Chromium: load times and frame times while
panning and dragging, against the idle page.

A real server (uvicorn on a free loopback port) and a headless Chromium (found as the browser
tests find it, launched with their flags) run tests/e2e/perf.py `editor_scenario`: the graph is
stored through the API and opened by its link; the page records the time between animation
frames (requestAnimationFrame deltas) while idle (the reference), while panning at the fitted
zoom (text hidden), while panning at zoom ~1 (every label drawn) and while dragging a node, each
through real mouse input; Chromium's Performance domain gives the main thread's script and
style/layout time per frame.

Prints the load times, each gesture's frame times (p50, p95, max, frames over 50 ms) with its
median as a ratio to the idle page's, and whether the target (a median frame under 50 ms, i.e.
better than 20 fps) was met; writes them to test-results/perf-editor.json. Run with
`python tests/bench/bench_editor.py` (or `make bench`); not collected by pytest, and never fails
on speed. (tests/e2e/test_editor_perf.py checks that the gestures work.)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "e2e"))
sys.path.insert(0, str(TESTS))
from chromium import find_chromium, launch  # noqa: E402  (tests/e2e/chromium.py)
from perf import editor_scenario  # noqa: E402  (tests/e2e/perf.py)

from conftest import start_server  # noqa: E402  (tests/conftest.py)

RESULTS = TESTS.parent / "test-results"
TARGET_P50_MS = 50
GESTURES = ("pan_fitted", "pan_detail", "node_drag")


def run(url: str) -> dict:
    if find_chromium() is None:
        sys.exit("no Chromium found: run `python tests/e2e/chromium.py` (make bench does)")
    with sync_playwright() as pw:
        browser = launch(pw, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            return editor_scenario(page, url)
        finally:
            browser.close()


def main() -> None:
    print("== editor: 300 nodes, 280 edges; idle, pan (fitted), pan (zoom ~1), node drag")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            figures = run(server.url)
        finally:
            server.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "perf-editor.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"   load: nodes drawn {figures['load_to_nodes_s']:.2f} s, "
        f"validated {figures['load_to_valid_s']:.2f} s"
    )
    idle = figures["idle"]["p50"]
    for name in ("idle", *GESTURES):
        f = figures[name]
        ratio = f" ({f['p50'] / idle:.2f}× idle)" if name != "idle" else " (reference)"
        print(
            f"   {name:10s} frames={f['frames']:4d} p50={f['p50']:6.1f} ms{ratio}"
            f" p95={f['p95']:6.1f} ms max={f['max']:7.1f} ms long(>50ms)={f['long']}"
            f" | main thread per frame: script {f['script_ms_per_frame']} ms,"
            f" style+layout {f['layout_ms_per_frame']} ms"
        )
    ok = all(figures[name]["p50"] < TARGET_P50_MS for name in GESTURES)
    met = "met" if ok else "NOT met"
    print(f"   target median frame < {TARGET_P50_MS} ms in every gesture: {met}")


if __name__ == "__main__":
    main()
