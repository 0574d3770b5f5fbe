"""A 300-node graph loads and pans smoothly (issue 6, Performance).

The graph is stored through the API and opened by its link, as a person would share it. While a
scripted pan (at the fitted zoom, where text is hidden, and again at zoom ~1 with every label
drawn) and a node drag run through real mouse input, the page records the time between
animation frames (`requestAnimationFrame` deltas). The figures are printed (run with `-s`) and
written to test-results/perf-editor.json; the assertions are deliberately loose (a median frame
under 50 ms, i.e. better than 20 fps) so a loaded 2-core CI machine does not flake, while a
regression to a re-render of every node per mouse move still fails.

    .venv/bin/pytest tests/e2e/test_editor_perf.py -s
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
ROWS, COLS = 20, 15  # 300 nodes: per row input → 12 blocks → squared_error ← target
MOVES = 60  # mouse moves per gesture, one per frame or so: about a second each

RECORDER = """() => {
  const deltas = [];
  let last = null;
  let on = true;
  const tick = (t) => {
    if (last !== null) deltas.push(t - last);
    last = t;
    if (on) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__frames = { stop: () => { on = false; return deltas; } };
}"""

# A point on the empty pane (not on a node, an edge or a control): where a drag pans.
FIND_PANE = """() => {
  const r = document.querySelector('[data-testid="canvas"]').getBoundingClientRect();
  for (let y = r.top + 40; y < r.bottom - 40; y += 17) {
    for (let x = r.left + 40; x < r.right - 220; x += 13) {
      const el = document.elementFromPoint(x, y);
      if (el && el.classList.contains('react-flow__pane')) return [x, y];
    }
  }
  return null;
}"""

TRANSFORM = "() => document.querySelector('.react-flow__viewport').style.transform"


def big_graph() -> dict:
    kinds = ["linear", "tanh", "linear", "relu"]
    nodes = []
    for r in range(ROWS):
        y = r * 140
        prev = f"x{r}"
        nodes.append({"id": prev, "op": "input", "params": {"shape": [8]}, "ui": {"x": 0, "y": y}})
        for c in range(1, COLS - 2):
            op = kinds[(c - 1) % len(kinds)]
            node = {
                "id": f"n{r}_{c}",
                "op": op,
                "inputs": {"x": prev},
                "ui": {"x": c * 220, "y": y},
            }
            if op == "linear":
                node["params"] = {"out_features": 8}
            nodes.append(node)
            prev = node["id"]
        t = f"t{r}"
        nodes.append(
            {"id": t, "op": "target", "params": {"shape": [8]}, "ui": {"x": 13 * 220, "y": y + 70}}
        )
        nodes.append(
            {
                "id": f"c{r}",
                "op": "squared_error",
                "inputs": {"y": prev, "target": t},
                "ui": {"x": 14 * 220, "y": y},
            }
        )
    assert len(nodes) == ROWS * COLS
    return {"version": 1, "name": "300 nodes", "nodes": nodes}


def stats(deltas: list[float]) -> dict[str, float]:
    ds = sorted(deltas)
    return {
        "frames": len(ds),
        "p50": round(statistics.median(ds), 1),
        "p95": round(ds[min(len(ds) - 1, int(0.95 * len(ds)))], 1),
        "max": round(ds[-1], 1),
        "long": sum(d > 50 for d in ds),
    }


def measure(page: Page, cdp, gesture) -> dict[str, float]:
    """Frame-time statistics while `gesture` runs, and the main thread's script and
    style/layout time per frame (Chromium's Performance domain) to tell JS from painting."""
    page.evaluate(RECORDER)
    page.wait_for_timeout(100)  # a few idle frames first: the recorder is running
    before = main_thread(cdp)
    gesture()
    after = main_thread(cdp)
    page.wait_for_timeout(100)
    figures = stats(page.evaluate("() => window.__frames.stop()"))
    for key in ("script", "layout"):
        figures[f"{key}_ms_per_frame"] = round((after[key] - before[key]) / figures["frames"], 2)
    return figures


def main_thread(cdp) -> dict[str, float]:
    m = {x["name"]: x["value"] for x in cdp.send("Performance.getMetrics")["metrics"]}
    return {
        "script": 1000 * m["ScriptDuration"],
        "layout": 1000 * (m["LayoutDuration"] + m["RecalcStyleDuration"]),
    }


def mouse_drag(page: Page, start: tuple[float, float], by: tuple[float, float]) -> None:
    """Press, move in MOVES steps about a frame apart (as a hand would), release."""
    x, y = start
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, MOVES + 1):
        page.mouse.move(x + by[0] * i / MOVES, y + by[1] * i / MOVES)
    page.mouse.up()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


def test_300_node_graph_loads_and_pans_smoothly(live_server, page: Page, console_errors):
    doc = big_graph()
    created = httpx.post(f"{live_server.url}/api/graphs", json={"graph": doc}, timeout=30)
    assert created.status_code in (200, 201), created.text
    graph_id = created.json()["id"]
    canvas = page.get_by_test_id("canvas")
    rf = page.locator(".react-flow")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    started = time.perf_counter()
    page.goto(f"{live_server.url}/g/{graph_id}")
    expect(page.locator(".react-flow__node")).to_have_count(ROWS * COLS, timeout=30_000)
    shown = time.perf_counter() - started
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=30_000)
    validated = time.perf_counter() - started
    expect(page.locator(".react-flow__edge")).to_have_count(ROWS * (COLS - 1))
    page.wait_for_timeout(300)  # the load's fitView
    expect(rf).to_have_class(_has("is-zoomed-out"))  # 300 nodes fitted: far out, text hidden

    figures: dict[str, object] = {
        "nodes": ROWS * COLS,
        "edges": ROWS * (COLS - 1),
        "load_to_nodes_s": round(shown, 2),
        "load_to_valid_s": round(validated, 2),
    }

    def pan(name: str, by: tuple[float, float]) -> None:
        start = page.evaluate(FIND_PANE)
        assert start, "no empty pane to grab"
        before = page.evaluate(TRANSFORM)
        figures[name] = measure(page, cdp, lambda: mouse_drag(page, start, by))
        assert page.evaluate(TRANSFORM) != before, "the pan moved the viewport"

    pan("pan_fitted", (-350, -250))

    # Zoom in to about 1 around the canvas centre: labels, ids and edge shapes all drawn.
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(50)
    expect(rf).not_to_have_class(_has("is-zoomed-out"))
    zoom = page.evaluate(TRANSFORM)
    figures["zoom_for_detail"] = zoom
    pan("pan_detail", (300, 200))

    # Drag one visible node: the canvas re-renders with the other 299 in place.
    target = page.evaluate(
        """() => {
          const r = document.querySelector('[data-testid="canvas"]').getBoundingClientRect();
          for (const el of document.querySelectorAll('.react-flow__node')) {
            const b = el.getBoundingClientRect();
            const x = b.left + b.width / 2, y = b.top + b.height / 2;
            if (x < r.left + 100 || x > r.right - 300 || y < r.top + 100 || y > r.bottom - 200)
              continue;
            const hit = document.elementFromPoint(x, y);
            if (hit && el.contains(hit) && !hit.closest('.nodrag'))
              return [el.dataset.id, x, y];
          }
          return null;
        }"""
    )
    assert target, "no node in view to drag"
    node_id, x, y = target
    before = page.get_by_test_id(f"node-{node_id}").bounding_box()
    figures["node_drag"] = measure(page, cdp, lambda: mouse_drag(page, (x, y), (160, 120)))
    after = page.get_by_test_id(f"node-{node_id}").bounding_box()
    assert after["x"] > before["x"] + 100 and after["y"] > before["y"] + 80, "the node moved"
    figures["dragged_node"] = node_id

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "perf-editor.json").write_text(json.dumps(figures, indent=2) + "\n")
    page.screenshot(path=str(RESULTS / "screenshots" / "editor-300-nodes.png"))
    print("\n300-node editor, frame times in ms (requestAnimationFrame deltas):")
    print(f"  load: nodes drawn {shown:.2f} s, validated {validated:.2f} s")
    for name in ("pan_fitted", "pan_detail", "node_drag"):
        f = figures[name]
        print(
            f"  {name:11s} frames={f['frames']:4d} p50={f['p50']:6.1f} ms"
            f" p95={f['p95']:6.1f} ms max={f['max']:7.1f} ms long(>50ms)={f['long']}"
            f" | main thread per frame: script {f['script_ms_per_frame']} ms,"
            f" style+layout {f['layout_ms_per_frame']} ms"
        )

    for name in ("pan_fitted", "pan_detail", "node_drag"):
        f = figures[name]
        assert f["frames"] >= 20, f"{name}: too few frames recorded ({f})"
        # Loose on purpose: a median under 50 ms (20 fps) holds on a busy 2-core machine.
        assert f["p50"] < 50, f"{name}: median frame {f['p50']} ms ({f})"
        assert f["max"] < 2000, f"{name}: a frame froze the page for {f['max']} ms ({f})"
    assert shown < 20, f"300 nodes took {shown:.1f} s to appear"
    assert console_errors == []


def _has(cls: str):
    import re

    return re.compile(rf"(^|\s){re.escape(cls)}(\s|$)")
