"""Issue 17 in a real Chromium against a real server: both Jacobians of a block on the explain
card, explain on a mini-batch (checked against POST /api/evaluate) and the loss landscape with
the three descents. Screenshots go to test-results/screenshots/ as artifacts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from graphs import TWO_LAYER
from playwright.sync_api import Page, expect

SLOW = 20_000


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}}


def open_graph(page: Page, url: str, graph: dict[str, Any]) -> None:
    r = httpx.post(f"{url}/api/graphs", json={"graph": graph}, timeout=10)
    assert r.status_code == 201, r.text
    page.goto(f"{url}/g/{r.json()['id']}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)


def open_explain(page: Page, url: str, graph: dict[str, Any]) -> None:
    open_graph(page, url, graph)
    page.get_by_test_id("btn-explain").click()
    expect(page.get_by_test_id("explain-card")).to_have_attribute("data-phase", "start")


def step_to(page: Page, position: int) -> None:
    counter = page.get_by_test_id("explain-step")
    while int(counter.get_attribute("data-position") or 0) < position:
        page.keyboard.press("ArrowRight")
    expect(counter).to_have_attribute("data-position", str(position))


def test_both_jacobians_of_the_selected_block(live_server, page: Page, console_errors, screenshot):
    open_explain(page, live_server.url, TWO_LAYER)
    step_to(page, 9)  # forward ×6, then backward c, l2, h: the ReLU
    expect(page.get_by_test_id("explain-card")).to_have_attribute("data-node", "h")
    page.get_by_test_id("jacobian-toggle").click()
    relu = page.get_by_test_id("jacobian-x")
    expect(relu).to_have_attribute("data-diagonal", "true", timeout=SLOW)  # pointwise: diagonal
    assert json.loads(relu.get_attribute("data-shape")) == [4, 4]
    expect(page.get_by_test_id("jacobian-check-x")).to_have_attribute("data-ok", "true")
    screenshot("teaching-jacobian-relu")

    page.keyboard.press("ArrowLeft")  # back to l2: ∂z/∂x = W (2 × 4) and ∂z/∂W (2 × 8)
    expect(page.get_by_test_id("explain-card")).to_have_attribute("data-node", "l2")
    expect(page.get_by_test_id("jacobian-W")).to_have_attribute("data-shape", "[2,8]", timeout=SLOW)
    x = page.get_by_test_id("jacobian-x")
    expect(x).to_have_attribute("data-diagonal", "false")
    assert json.loads(x.get_attribute("data-shape")) == [2, 4]
    for name in ("x", "W", "b"):
        expect(page.get_by_test_id(f"jacobian-check-{name}")).to_have_attribute("data-ok", "true")
    screenshot("teaching-jacobian-linear")
    assert not console_errors


def test_explain_on_a_mini_batch_matches_evaluate(
    live_server, page: Page, console_errors, screenshot
):
    url = live_server.url
    open_explain(page, url, TWO_LAYER)
    page.get_by_test_id("explain-source").select_option("xor")
    expect(page.get_by_test_id("explain-input-x")).not_to_have_value("", timeout=SLOW)
    page.get_by_test_id("batch-size").fill("4")
    page.get_by_test_id("batch-method").select_option("adam")
    page.get_by_test_id("batch-run").click()
    result = page.get_by_test_id("batch-result")
    expect(result).to_have_attribute("data-p", "4", timeout=SLOW)
    expect(page.get_by_test_id("batch-update")).to_have_attribute("data-method", "adam")

    # the same four rows (from the first) through POST /api/evaluate
    rows = httpx.get(f"{url}/api/datasets/xor?limit=200&normalize=false", timeout=10).json()
    inputs = {"x": rows["x"][:4], "y": rows["y"][:4]}
    ev = httpx.post(f"{url}/api/evaluate", json={"graph": TWO_LAYER, "inputs": inputs}).json()
    assert float(result.get_attribute("data-loss")) == pytest.approx(ev["loss"], rel=1e-9)
    expect(page.get_by_test_id("batch-costs").locator("tbody tr")).to_have_count(4)
    expect(page.get_by_test_id("batch-grads").locator("li")).to_have_count(4)
    screenshot("teaching-mini-batch")
    assert not console_errors


def test_loss_landscape_with_the_three_descents(
    live_server, page: Page, console_errors, screenshot
):
    page.goto(live_server.url + "/")
    page.evaluate("() => localStorage.setItem('blockprop:dock', '620')")  # room for the plot
    page.reload()
    expect(page.get_by_test_id("train-dock")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("btn-examples").click()  # the example brings its dataset to the dock
    page.get_by_test_id("example-linear_regression").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    dock = page.get_by_test_id("btn-train-dock")
    if dock.get_attribute("aria-expanded") != "true":
        dock.click()
    page.get_by_test_id("train-tab-landscape").click()
    expect(page.get_by_test_id("landscape-axis-0")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("landscape-run").click()
    fig = page.get_by_test_id("landscape-figure")
    expect(fig).to_have_attribute("data-rows", "41", timeout=SLOW)
    for key in ("gd", "sgd", "minibatch"):
        expect(page.get_by_test_id(f"landscape-path-{key}")).to_contain_text("30 steps")
    # live while training: the dock's run draws its own path on the landscape
    page.get_by_test_id("btn-train-play").click()
    live = page.get_by_test_id("landscape-live")
    expect(live).to_be_visible(timeout=SLOW)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=landscape-live]')"
        "?.dataset.points ?? 0) >= 3",
        timeout=SLOW,
    )
    fig.scroll_into_view_if_needed()
    path = screenshot("teaching-landscape")
    fig.screenshot(path=str(path.with_name("teaching-landscape-plot.png")))
    # the three side by side, each from the same start
    page.get_by_test_id("landscape-side").check()
    expect(fig).to_have_attribute("data-layout", "side")
    for key in ("gd", "sgd", "minibatch"):
        expect(page.get_by_test_id(f"landscape-plot-{key}")).to_be_visible()
    fig.screenshot(path=str(path.with_name("teaching-landscape-side-by-side.png")))
    stop = page.get_by_test_id("btn-train-stop")
    if stop.is_enabled():  # leave no run behind for the next tests
        stop.click()
    assert not console_errors


def test_computed_variables_as_empty_circles(live_server, page: Page, console_errors, screenshot):
    open_graph(page, live_server.url, TWO_LAYER)
    expect(page.locator(".bp-edge-variable")).to_have_count(0)
    page.get_by_test_id("btn-variables").click()
    # the outputs of l1, h and l2 (functions); x and y are observed data, drawn shaded already
    expect(page.locator(".bp-edge-variable")).to_have_count(3)
    expect(page.locator(".bp-constant")).to_have_count(0)
    screenshot("teaching-computed-variables")
    assert not console_errors


def test_a_cost_block_reads_in_the_notes_notation(live_server, page: Page, console_errors):
    """The prediction arrives at ȳ and the desired output at y, as the notes write C(y, ȳ)."""
    graph = {
        "version": 1,
        "name": "linear regression",
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [1]}, "ui": {"x": 0, "y": 0}},
            {"id": "t", "op": "target", "params": {"shape": [1]}, "ui": {"x": 200, "y": 140}},
            {
                "id": "l",
                "op": "linear",
                "params": {"out_features": 1},
                "inputs": {"x": "x"},
                "ui": {"x": 200, "y": 0},
            },
            {
                "id": "c",
                "op": "mse",
                "inputs": {"y": "l", "target": "t"},
                "ui": {"x": 420, "y": 60},
            },
        ],
    }
    open_graph(page, live_server.url, graph)
    cost = page.get_by_test_id("node-c")
    expect(cost.locator('.bp-port-in[data-port="y"]')).to_have_text("ȳ")
    expect(cost.locator('.bp-port-in[data-port="target"]')).to_have_text("y")
    assert not console_errors
