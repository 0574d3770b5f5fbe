"""A newcomer's editor (issue 16), in a real Chromium against a real server: a classifier drawn
from scratch where only a Linear's size is typed is valid and trains (the Target configures
itself for class labels, the last Linear sizes itself to the classes, the inspector says so and
undo takes it back); connected quick-add; linear regression built by keyboard alone.

Screenshots land in test-results/screenshots/newcomer-*.png.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

SLOW = 15_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def editor(live_server, page: Page, console_errors):
    page.on("dialog", lambda d: d.accept())
    page.goto(live_server.url + "/")
    expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
    # the dataset catalogue is what the smart defaults read
    expect(page.get_by_test_id("dataset-select")).to_have_value("spiral", timeout=SLOW)
    expect(page.locator("[data-testid=dataset-select] option[value=spiral]")).to_have_count(1)
    yield page
    with contextlib.suppress(Exception):
        tokens = page.evaluate(
            """() => Object.keys(localStorage).filter(k => k.startsWith('blockprop:runtoken:'))
                 .map(k => [k.slice(19), localStorage.getItem(k)])"""
        )
        for run_id, token in tokens:
            httpx.post(
                f"{live_server.url}/api/runs/{run_id}/stop",
                headers={"X-Edit-Token": token, "Origin": live_server.url},
                timeout=5,
            )


def quick_add(page: Page, op: str) -> None:
    """`/`, the op's name, Enter: placed next to the selected node and wired from it."""
    page.keyboard.press("/")
    expect(page.get_by_test_id("quick-add-input")).to_be_focused()
    page.keyboard.type(op)
    expect(page.get_by_test_id(f"quick-add-item-{op}")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("quick-add")).to_have_count(0)


def whole_graph(page: Page) -> None:
    """The canvas control that fits the whole graph in view (quick-add pans as it places)."""
    page.locator(".react-flow__controls-fitview").click()


def edge(page: Page, target: str, port: str):
    return page.get_by_test_id(f"rf__edge-e-{target}-{port}")


def test_a_classifier_from_scratch_needs_only_a_size(editor: Page, console_errors, screenshot):
    page = editor
    page.get_by_test_id("canvas").click(position={"x": 300, "y": 300})
    quick_add(page, "input")
    # shaped from the dataset chosen in the dock (spiral: 2 features)
    expect(page.get_by_test_id("param-shape")).to_have_value("2")
    for op in ("linear", "relu", "linear", "cross_entropy"):
        quick_add(page, op)
    # each quick-added node sits right of the one before, wired from it
    for target, port in (("linear1", "x"), ("relu1", "x"), ("linear2", "x")):
        expect(edge(page, target, port)).to_have_count(1)
    expect(edge(page, "cross_entropy1", "logits")).to_have_count(1)
    xs = [
        page.get_by_test_id(f"node-{n}").bounding_box()["x"]
        for n in ("input1", "linear1", "relu1", "linear2", "cross_entropy1")
    ]
    assert xs == sorted(xs) and len(set(xs)) == len(xs), xs
    # the Linear feeding the cost sized itself to spiral's classes, and says so
    whole_graph(page)
    page.get_by_test_id("node-linear2").click()
    classes = page.get_by_test_id("param-out_features").input_value()
    assert int(classes) >= 2
    expect(page.get_by_test_id("smart-notes")).to_contain_text("classes")

    # a Target dropped by double-click, wired into the cost's target by dragging
    cost = page.get_by_test_id("node-cross_entropy1").bounding_box()
    page.mouse.dblclick(cost["x"] - 120, cost["y"] - 110)  # empty canvas above-left of it
    expect(page.get_by_test_id("quick-add-input")).to_be_focused()
    page.keyboard.type("target")
    page.keyboard.press("Enter")
    page.get_by_test_id("port-target1-out-y").drag_to(
        page.get_by_test_id("port-cross_entropy1-in-target")
    )
    expect(edge(page, "cross_entropy1", "target")).to_have_count(1)
    # the Target became class labels; the inspector says what it did, undo takes it back
    whole_graph(page)
    page.get_by_test_id("node-target1").click()
    notes = page.get_by_test_id("smart-notes")
    expect(notes).to_contain_text("class labels")
    expect(page.get_by_test_id("param-dtype")).to_have_value("int")
    page.get_by_test_id("smart-undo").click()
    expect(page.get_by_test_id("param-dtype")).to_have_value("float")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "invalid", timeout=SLOW)
    # ... and the error offers the fix as a button
    fix = page.get_by_test_id("fix-target1")
    expect(fix).to_contain_text("class labels")
    fix.click()
    expect(page.get_by_test_id("param-dtype")).to_have_value("int")

    # the only thing typed: the hidden layer's size
    whole_graph(page)
    page.get_by_test_id("node-linear1").click()
    size = page.get_by_test_id("param-out_features")
    size.fill("24")
    size.press("Enter")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    screenshot("newcomer-classifier-drawn")

    page.get_by_test_id("btn-train-play").click()
    status = page.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-status", "running", timeout=SLOW)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=run-status]').dataset.step) >= 30",
        timeout=SLOW,
    )
    # each hidden unit's activation over the input plane, live (TensorFlow Playground style)
    thumbs = page.get_by_test_id("unit-thumbs-relu1")
    expect(thumbs).to_have_attribute("data-units", "24", timeout=SLOW)
    expect(thumbs.locator("canvas").first).to_have_attribute("title", re.compile(r"relu1\[0\]"))
    screenshot("newcomer-classifier-training")
    assert console_errors == []


def focus_until(page: Page, testid: str, limit: int = 40) -> None:
    """Tab until the element with `testid` has the focus (as a keyboard user would)."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement?.dataset?.testid") == testid:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {testid}")


def test_linear_regression_by_keyboard_alone(editor: Page, console_errors, screenshot):
    page = editor
    page.get_by_test_id("dataset-select").select_option("linear")
    quick_add(page, "input")
    quick_add(page, "linear")
    quick_add(page, "squared_error")
    quick_add(page, "target")  # a cost has no output: placed beside it, not wired
    expect(edge(page, "linear1", "x")).to_have_count(1)
    expect(edge(page, "squared_error1", "y")).to_have_count(1)
    # the new node has the focus: Tab goes on to its port
    expect(page.get_by_test_id("rf__node-target1")).to_be_focused()
    # focus the Target's output port, Enter, choose the cost's target port, Enter
    focus_until(page, "port-target1-out-y")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("port-picker-input")).to_be_focused()
    page.keyboard.type("squared_error1 · target")
    page.keyboard.press("Enter")
    expect(edge(page, "squared_error1", "target")).to_have_count(1)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    # the Linear feeding the cost sized itself to the one target value
    expect(page.get_by_test_id("node-linear1")).not_to_contain_text("out_features=16")

    # move a node with the arrow keys: focus it, Enter selects, arrows move
    before = page.get_by_test_id("node-target1").bounding_box()
    page.keyboard.press("Shift+Tab")  # from its port back to the node
    page.keyboard.press("Enter")
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    after = page.get_by_test_id("node-target1").bounding_box()
    assert after["y"] > before["y"] + 10, (before, after)
    # the `?` overlay lists the keyboard ways
    page.keyboard.press("?")
    help_ = page.get_by_test_id("help-overlay")
    expect(help_).to_contain_text("Enter on a port")
    expect(help_).to_contain_text("Arrow keys")
    page.keyboard.press("Escape")
    screenshot("newcomer-linreg-by-keyboard")
    assert console_errors == []


def test_code_tab_shows_the_module_of_the_drawing(editor: Page, console_errors, screenshot):
    page = editor
    quick_add(page, "input")
    quick_add(page, "linear")
    page.get_by_test_id("side-tab-code").click()
    listing = page.get_by_test_id("code-listing")
    expect(listing).to_contain_text("F.linear(input1", timeout=SLOW)
    # the selected node's line is highlighted
    expect(listing.locator(".is-marked")).to_contain_text("# linear1 (linear) [batch, 16]")
    # it follows the drawing; and a wire dropped on empty canvas quick-adds a node wired to it
    port = page.get_by_test_id("port-linear1-out-y").bounding_box()
    page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
    page.mouse.down()
    page.mouse.move(port["x"] + 120, port["y"] + 90, steps=8)
    page.mouse.up()
    expect(page.get_by_test_id("quick-add-input")).to_be_focused()
    page.keyboard.type("relu")
    page.keyboard.press("Enter")
    expect(edge(page, "relu1", "x")).to_have_count(1)
    expect(listing).to_contain_text("torch.relu(linear1)", timeout=SLOW)
    expect(listing.locator(".is-marked")).to_contain_text("# relu1 (relu)")
    page.get_by_test_id("code-copy").click()
    expect(page.get_by_test_id("code-copy")).to_have_text("Copied")
    screenshot("newcomer-code-tab")
    page.get_by_test_id("side-tab-inspect").click()
    expect(page.get_by_test_id("inspector-node")).to_be_visible()
    assert console_errors == []


def test_honest_state_while_a_run_trains(editor: Page, live_server, console_errors, screenshot):
    page = editor
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id("example-spiral").click()
    expect(page.get_by_test_id("node-l1")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("train-tab-settings").click()
    epochs = page.get_by_test_id("train-epochs")
    epochs.fill("100000")  # still running when the drawing changes
    epochs.press("Enter")
    page.get_by_test_id("btn-train-play").click()
    status = page.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-status", "running", timeout=SLOW)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=run-status]')?.dataset.accuracy !== undefined",
        timeout=SLOW,
    )
    expect(page.get_by_test_id("run-accuracy")).to_contain_text("test acc")
    # no thousands separators, no small number rounded to 0: one format in the chart too
    legend = page.locator(".u-legend").inner_text()
    assert "," not in legend.replace(", ", ""), legend

    # the drawing changes under the run: said at once
    page.get_by_test_id("node-l1").click()
    size = page.get_by_test_id("param-out_features")
    size.fill("9")
    size.press("Enter")
    stale = page.get_by_test_id("run-stale")
    expect(stale).to_have_attribute("data-running", "true", timeout=SLOW)
    expect(stale).to_contain_text("the graph changed")
    screenshot("newcomer-run-stale")

    # another example opened mid-run: the old run stops instead of holding a slot unseen
    rid = page.evaluate("() => new URL(location.href).searchParams.get('run')")
    assert rid
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id("example-xor").click()
    expect(page.get_by_test_id("train-message")).to_contain_text(f"Stopped run {rid}", timeout=SLOW)
    assert httpx.get(f"{live_server.url}/api/runs/{rid}", timeout=5).json()["status"] == "stopped"
    assert console_errors == []


# Every cell of the innermost KaTeX matrices in the explain panel: its text inside the window
# and inside every clipping (scrolling) box around it, i.e. on screen and not cut off.
MATRIX_CELLS = """() => {
  // Every cell of the innermost matrices: its text lies inside the window and inside every
  // clipping (scrolling) box around it: on screen, not cut off.
  const all = [...document.querySelectorAll('.cx-panel .katex-html .mtable')];
  const tables = all.filter((t) => !t.querySelector('.mtable'));
  const inside = (r, b) => r.left >= b.left - 0.5 && r.right <= b.right + 0.5
    && r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5;
  const shown = (cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const r = range.getBoundingClientRect();
    if (!r.width || !r.height) return false;
    if (!inside(r, { left: 0, top: 0, right: innerWidth, bottom: innerHeight })) return false;
    for (let a = cell.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.visibility === 'hidden' || s.display === 'none') return false;
      if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
        if (!inside(r, a.getBoundingClientRect())) return false;
      }
    }
    return true;
  };
  return tables.map((t) =>
    [...t.querySelectorAll('.col-align-c > .vlist-t > .vlist-r > .vlist > span')]
      .filter((s) => s.textContent.trim())
      .map((c) => ({ text: c.textContent.trim(), seen: shown(c) })),
  );
}"""

FOUR: dict = {
    "version": 1,
    "name": "four by four",
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [4]}, "ui": {"x": 0, "y": 0}},
        {"id": "y", "op": "target", "params": {"shape": [4]}, "ui": {"x": 0, "y": 200}},
        {
            "id": "lin",
            "op": "linear",
            "params": {"out_features": 4},
            "inputs": {"x": "x"},
            "ui": {"x": 200, "y": 0},
        },
        {
            "id": "c",
            "op": "squared_error",
            "inputs": {"y": "lin", "target": "y"},
            "ui": {"x": 420, "y": 100},
        },
    ],
}


@pytest.mark.parametrize("query", ["", "?present=1&explain=1"], ids=["explain", "present"])
def test_explain_at_1024x768_shows_every_cell_of_a_4x4_matrix(
    live_server, browser, query, screenshot
):
    url = live_server.url
    gid = httpx.post(f"{url}/api/graphs", json={"graph": FOUR}, timeout=10).json()["id"]
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    page = ctx.new_page()
    try:
        page.goto(f"{url}/g/{gid}{query}")
        expect(page.get_by_test_id("status")).to_have_attribute(
            "data-status", "valid", timeout=SLOW
        )
        if not query:
            page.get_by_test_id("btn-explain").click()
        card = page.get_by_test_id("explain-card")
        expect(card).to_be_visible(timeout=SLOW)
        while card.get_attribute("data-node") != "lin":
            page.keyboard.press("ArrowRight")
        # W (4 × 4), x, b and W x + b: every cell on screen
        every_cell = (
            "() => { const t = (" + MATRIX_CELLS + ")(); return t.length === 4 "
            "&& t[0].length === 16 && t.every((m) => m.every((c) => c.seen)); }"
        )
        page.wait_for_function(every_cell, timeout=SLOW)
        # the panel and its close button on screen, docked beside the graph (not over it)
        box = page.locator(".cx-panel").bounding_box()
        assert box["x"] + box["width"] <= 1024 and box["y"] + box["height"] <= 768
        shut = page.get_by_test_id("explain-close").bounding_box()
        assert shut["x"] + shut["width"] <= 1024 and shut["y"] >= 0
        # the explained block beside the panel, once the view has finished panning to it
        beside = (
            "() => { const n = document.querySelector('[data-testid=\"node-lin\"]')"
            ".getBoundingClientRect(); const p = document.querySelector('.cx-panel')"
            ".getBoundingClientRect(); return n.right <= p.left && n.left >= 0; }"
        )
        page.wait_for_function(beside, timeout=SLOW)
        page.screenshot(
            path=str(ARTIFACTS / f"newcomer-explain-1024{'-present' if query else ''}.png")
        )
    finally:
        ctx.close()


def test_learned_parameters_in_raw_units(editor: Page, console_errors, screenshot):
    """The notes' line y = 2x − 0.5 learned on normalised features reads W≈1.15, b≈−0.5:
    the inspector says so, and gives W and b in the data's own units."""
    page = editor
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id("example-linear_regression").click()
    expect(page.get_by_test_id("node-lin")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("train-tab-data").click()
    page.get_by_test_id("dataset-normalize").check()
    page.get_by_test_id("btn-train-play").click()
    status = page.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    # the fit is plotted on axes named after the dataset's columns
    expect(page.get_by_test_id("axis-x")).to_contain_text("x0")
    expect(page.get_by_test_id("axis-y")).to_have_text("y")
    page.get_by_test_id("node-lin").click()
    section = page.get_by_test_id("raw-units-lin")
    expect(section).to_contain_text("normalised units")
    page.get_by_test_id("raw-units-show").click()
    w = page.get_by_test_id("raw-W-0").inner_text()
    b = page.get_by_test_id("raw-b-0").inner_text()
    assert abs(float(w.split("[")[1].rstrip("]")) - 2.0) < 0.05, w
    assert abs(float(b.split("=")[1]) + 0.5) < 0.05, b
    screenshot("newcomer-raw-units")
    assert console_errors == []


def test_a_follower_sees_the_teachers_run(
    live_server, page: Page, browser, console_errors, screenshot
):
    url = live_server.url
    spiral = httpx.get(f"{url}/api/examples/spiral", timeout=10).json()["graph"]
    gid = httpx.post(f"{url}/api/graphs", json={"graph": spiral}, timeout=10).json()["id"]
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{url}/g/{gid}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    page.get_by_test_id("btn-explain").click()
    page.get_by_test_id("btn-broadcast").click()
    link = page.get_by_test_id("broadcast-link").input_value()
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    student = ctx.new_page()
    try:
        student.goto(link)
        expect(student.get_by_test_id("follow-status")).to_have_attribute(
            "data-state", "live", timeout=SLOW
        )
        expect(page.get_by_test_id("save-state")).to_have_attribute("data-dirty", "false")
        page.get_by_test_id("train-tab-settings").click()
        epochs = page.get_by_test_id("train-epochs")
        epochs.fill("100000")
        epochs.press("Enter")
        # the document carries the settings: changed, it is unsaved, and followers see them
        expect(page.get_by_test_id("save-state")).to_have_attribute("data-dirty", "true")
        settings = student.get_by_test_id("follow-settings")
        expect(settings).to_contain_text("spiral", timeout=SLOW)
        expect(settings).to_contain_text("100000 epochs", timeout=SLOW)
        settings.locator("summary").click()
        expect(settings.locator('[data-setting="epochs"] dd')).to_have_text("100000")
        page.get_by_test_id("btn-train-play").click()
        view = student.get_by_test_id("follow-run-view")
        expect(view).to_be_visible(timeout=SLOW)
        # the loss curve, the decision boundary and the node views, live
        expect(view.locator(".u-legend")).to_be_visible()
        expect(view.get_by_test_id("boundary-view")).to_have_attribute(
            "data-kind", "class", timeout=SLOW
        )
        expect(student.get_by_test_id("node-live-l1")).to_be_visible(timeout=SLOW)
        assert student.url == link  # following leaves the address alone
        student.screenshot(path=str(ARTIFACTS / "newcomer-follow-run.png"), full_page=True)
    finally:
        ctx.close()
        with contextlib.suppress(Exception):
            page.get_by_test_id("btn-train-stop").click(timeout=2000)
