"""Training in the browser (issue 7), in a real Chromium against a real server: press play on
the spiral example and watch it learn; pause, single step, live learning rate, value and
gradient views, run history and comparison; divergence at a huge learning rate; a reload and a
server restart mid-run; and a 50-node graph trained with live views at 20 snapshots a second
(how smooth the page stays is measured by tests/bench/bench_page.py)."""

from __future__ import annotations

import base64
import contextlib
import math
import re
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf import (  # noqa: E402  (tests/e2e/perf.py)
    WATCHED,
    load_chain,
    record_snapshots,
    setting,
    start_probe,
    stop_probe,
)

from conftest import free_port, start_server  # noqa: E402  (tests/conftest.py)

SLOW = 20_000


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}}


@pytest.fixture
def trainer(live_server, page: Page, console_errors):
    """The editor with the op catalogue loaded; every run the page started is stopped after."""
    page.on("dialog", lambda d: d.accept())
    page.goto(live_server.url + "/")
    # booted: the op catalogue loaded and the (empty) start graph in place
    expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("train-dock")).to_be_visible()
    yield page
    stop_page_runs(page, live_server.url)


def stop_page_runs(page: Page, url: str) -> None:
    with contextlib.suppress(Exception):
        tokens = page.evaluate(
            """() => Object.keys(localStorage).filter(k => k.startsWith('blockprop:runtoken:'))
                 .map(k => [k.slice(19), localStorage.getItem(k)])"""
        )
        for run_id, token in tokens:
            httpx.post(
                f"{url}/api/runs/{run_id}/stop",
                headers={"X-Edit-Token": token, "Origin": url},
                timeout=5,
            )


# ---- helpers ---------------------------------------------------------------------------------


def open_example(page: Page, example: str) -> None:
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id(f"example-{example}").click()
    expect(page.locator(".react-flow__node").first).to_be_visible(timeout=SLOW)


def status(page: Page) -> dict[str, str]:
    return page.get_by_test_id("run-status").evaluate("e => ({...e.dataset})")


def wait_for(page: Page, predicate, timeout: float = 20, what: str = "condition") -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = status(page)
        if predicate(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; status {s}")
        page.wait_for_timeout(100)


def finished(status: str):
    """The run ended with `status` and the page holds its metrics up to the last step (the
    status frame may overtake the last metrics batch)."""
    return lambda s: s["status"] == status and s.get("metricsStep") == s.get("step")


def run_id(page: Page) -> str:
    return parse_qs(urlparse(page.url).query)["run"][0]


def metrics(url: str, rid: str) -> list[dict]:
    return httpx.get(f"{url}/api/runs/{rid}/metrics", timeout=10).json()["points"]


def live(page: Page, node: str) -> dict[str, str]:
    return page.get_by_test_id(f"node-live-{node}").evaluate("e => ({...e.dataset})")


def step_of(page: Page) -> int:
    return int(status(page).get("step", "0"))


def plot_colours(page: Page, view) -> dict[str, int]:
    """Pixels of a node view's plot (above its norms) that are clearly red or clearly blue, read
    from a screenshot of it (the canvas itself belongs to the live worker)."""
    png = base64.b64encode(view.screenshot()).decode()
    return page.evaluate(
        """async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const bmp = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
          const c = new OffscreenCanvas(bmp.width, bmp.height);
          const ctx = c.getContext("2d");
          ctx.drawImage(bmp, 0, 0);
          const h = Math.floor((bmp.height * 28) / 40); // the plot: 28 of the view's 40 px
          const d = ctx.getImageData(0, 0, bmp.width, h).data;
          let red = 0, blue = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (d[i] > d[i + 2] + 40 && d[i] > d[i + 1] + 40) red++;
            else if (d[i + 2] > d[i] + 40) blue++;
          }
          return { red, blue };
        }""",
        png,
    )


# ---- tests -----------------------------------------------------------------------------------


def test_spiral_learns_and_the_views_follow(trainer: Page, live_server, console_errors, screenshot):
    page = trainer
    open_example(page, "spiral")
    expect(page.get_by_test_id("dataset-select")).to_have_value("spiral")
    expect(page.get_by_test_id("dataset-preview")).to_be_visible(timeout=SLOW)
    setting(page, "speed", "200")  # slow enough to watch; 1500 steps take ~8 s
    page.get_by_test_id("btn-train-play").click()
    expect(page.get_by_test_id("node-live-l1")).to_be_visible(timeout=SLOW)
    first = live(page, "l1")
    wait_for(page, lambda s: int(s.get("step", 0)) >= 600, what="600 steps")
    later = live(page, "l1")
    assert later["step"] != first["step"] and later["valueNorm"] != first["valueNorm"]
    screenshot("training-spiral-running")
    done = wait_for(page, finished("done"), timeout=60, what="the run to finish")
    assert float(done["accuracy"]) >= 0.9, done
    points = metrics(live_server.url, run_id(page))
    losses = [p["train_loss"] for p in points if p.get("train_loss") is not None]
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    expect(page.get_by_test_id("boundary-view")).to_have_attribute("data-kind", "class")
    # the inspector shows a Linear layer's weights as a heatmap
    page.get_by_test_id("node-l2").click()
    expect(page.get_by_test_id("weight-heatmap-l2-W")).to_be_visible()
    page.get_by_test_id("edge-mode-grad").click()
    assert page.locator(".edge-live").count() >= 5
    screenshot("training-spiral-done")
    assert console_errors == []


def test_a_convnet_shows_its_feature_maps(trainer: Page, console_errors, screenshot):
    """digits_conv: the conv layer's view draws its 16 channel maps (diverging colours: a
    signed layer shows red and blue), its hover text says so, and each node's data-kind
    names what its view draws."""
    page = trainer
    open_example(page, "digits_conv")
    setting(page, "epochs", "1000")
    setting(page, "speed", "50")
    page.get_by_test_id("btn-train-play").click()
    conv = page.get_by_test_id("node-live-conv")
    expect(conv).to_have_attribute("data-kind", "maps", timeout=SLOW)
    kinds = {"x": "maps", "pool": "maps", "relu": "maps", "flat": "hist", "scores": "data"}
    for node, kind in kinds.items():
        expect(page.get_by_test_id(f"node-live-{node}")).to_have_attribute("data-kind", kind)
    wait_for(page, lambda s: s["status"] == "running" and int(s["step"]) >= 10, what="running")
    deadline = time.monotonic() + 20  # the worker draws from the next snapshot on
    while (seen := plot_colours(page, conv))["red"] < 40 or seen["blue"] < 40:
        assert time.monotonic() < deadline, f"the conv view shows no signed maps: {seen}"
        page.wait_for_timeout(100)
    conv.hover()
    expect(conv).to_have_attribute("title", re.compile(r"one sample's 16 channel maps \(8×8\)"))
    expect(conv).to_have_attribute("aria-label", re.compile(r"^conv: one sample's 16 channel"))
    flat = page.get_by_test_id("node-live-flat")
    flat.hover()
    expect(flat).to_have_attribute("title", re.compile(r"^flat: a histogram over the last batch"))
    screenshot("training-conv-maps")
    value_only = conv.screenshot()
    page.get_by_test_id("live-mode-both").click()
    expect(conv).to_have_attribute("data-mode", "both")
    expect(page.get_by_test_id("node-live-grad-conv")).to_be_visible()
    deadline = time.monotonic() + 20  # redrawn by the worker as two grids
    while conv.screenshot() == value_only:
        assert time.monotonic() < deadline, "the conv view never redrew in mode both"
        page.wait_for_timeout(100)
    page.get_by_test_id("node-live-pool").hover()  # away and back: the text is written anew
    conv.hover()
    expect(conv).to_have_attribute("title", re.compile(r"the value above, the gradient ∂L/∂value"))
    screenshot("training-conv-maps-both")
    assert console_errors == []


def test_pause_step_gradients_live_lr_history_and_compare(
    trainer: Page, live_server, console_errors, screenshot
):
    page = trainer
    open_example(page, "spiral")
    setting(page, "epochs", "100000")
    setting(page, "speed", "50")
    page.get_by_test_id("btn-train-play").click()
    wait_for(page, lambda s: s["status"] == "running" and int(s["step"]) >= 20, what="running")
    first_run = run_id(page)

    # pause stops updates
    page.get_by_test_id("btn-train-pause").click()
    # paused, with the last points and snapshot landed: the metrics and the node view at the
    # step the run paused at
    wait_for(
        page,
        lambda s: (
            s["status"] == "paused"
            and s.get("metricsStep") == s["step"]
            and live(page, "h1").get("step") == s["step"]
        ),
        what="paused, its last points and snapshot shown",
    )
    paused_at = step_of(page)
    view = live(page, "h1")
    page.wait_for_timeout(1200)  # a window in which nothing may change
    assert step_of(page) == paused_at
    assert live(page, "h1") == view

    # one step advances exactly one step, and the views show it
    page.get_by_test_id("btn-train-step").click()
    wait_for(page, lambda s: int(s["step"]) == paused_at + 1, what="one step")
    page.wait_for_timeout(800)  # a window in which no further step may come
    assert step_of(page) == paused_at + 1 and status(page)["status"] == "paused"
    expect(page.get_by_test_id("node-live-h1")).to_have_attribute("data-step", str(paused_at + 1))

    # gradients toggle
    page.get_by_test_id("live-mode-grad").click()
    expect(page.get_by_test_id("node-live-h1")).to_have_attribute("data-mode", "grad")
    expect(page.get_by_test_id("node-live-grad-h1")).to_be_visible()
    assert float(live(page, "h1")["gradNorm"]) > 0
    page.get_by_test_id("live-mode-both").click()
    screenshot("training-paused-gradients")

    # the learning rate changes mid-run
    page.get_by_test_id("btn-train-play").click()
    wait_for(page, lambda s: s["status"] == "running", what="resumed")
    assert run_id(page) == first_run  # resumed, not restarted
    setting(page, "lr", "0.005")
    changed = wait_for(page, lambda s: s.get("lr") == "0.005", what="lr 0.005 in the metrics")
    deadline = time.monotonic() + 20  # the server stores what the page was sent
    while not math.isclose(
        (lrs := [p["lr"] for p in metrics(live_server.url, first_run)])[-1], 0.005
    ):
        assert time.monotonic() < deadline, f"the stored metrics never reached lr 0.005: {lrs}"
        page.wait_for_timeout(50)
    assert lrs[0] == pytest.approx(0.03)
    assert int(changed["step"]) > paused_at + 1

    # a second run (a new setting that cannot change mid-run), then compare the two
    page.get_by_test_id("btn-train-stop").click()
    wait_for(page, lambda s: s["status"] == "stopped", what="stopped")
    setting(page, "speed", "0")
    setting(page, "epochs", "60")
    page.get_by_test_id("btn-train-play").click()
    wait_for(page, finished("done"), timeout=30, what="second run done")
    second_run = run_id(page)
    assert second_run != first_run
    page.get_by_test_id("train-tab-history").click()
    expect(page.get_by_test_id(f"history-item-{first_run}")).to_be_visible()
    expect(page.get_by_test_id(f"history-item-{second_run}")).to_be_visible()
    compare = page.get_by_test_id(f"history-compare-{first_run}")
    compare.click()  # its curves load, then it shows as ticked
    expect(compare).to_be_checked()
    legend = page.get_by_test_id("loss-chart").locator(".u-legend")
    expect(legend).to_contain_text("· train", timeout=SLOW)
    screenshot("training-history-compare")
    assert console_errors == []


def test_a_huge_learning_rate_diverges_and_the_node_is_highlighted(
    trainer: Page, live_server, console_errors, screenshot
):
    page = trainer
    open_example(page, "linear_regression")  # squared error, plain SGD: lr 100 overflows
    setting(page, "lr", "100")
    page.get_by_test_id("btn-train-play").click()
    held = wait_for(page, lambda s: s["status"] == "diverged", what="divergence")
    expect(page.get_by_test_id("diverged-banner")).to_contain_text("learning rate")
    node = status(page)["divergedNode"]  # the first node holding a non-finite value
    assert node == "cost"
    expect(page.get_by_test_id(f"diverged-{node}")).to_be_visible()
    expect(page.get_by_test_id("diverged-hint")).to_contain_text("learning rate")
    expect(page.get_by_test_id("diverged-reason")).to_contain_text("non-finite")

    # the run pauses: held on its last finite weights, every control at hand
    assert held["live"] == "true", held
    expect(page.get_by_test_id("run-badge")).to_have_text(
        re.compile(r"^diverged — paused at step \d+$")
    )
    expect(page.get_by_test_id("diverged-banner")).to_have_attribute("data-held", "true")
    expect(page.get_by_test_id("btn-train-play")).to_contain_text("Resume")
    for control in ("btn-train-play", "btn-train-step", "btn-train-stop"):
        expect(page.get_by_test_id(control)).to_be_enabled()
    page.get_by_test_id("train-tab-settings").click()
    expect(page.get_by_test_id("train-lr")).to_be_editable()
    screenshot("training-diverged")

    # the fix the hint suggests, on the same run: a tenth of the rate is still too much from
    # lr 100 (it diverges again, and is held again) ...
    first = run_id(page)
    page.get_by_test_id("btn-resume-lower-lr").click()
    again = wait_for(
        page,
        lambda s: (
            "busy" not in s
            and s["status"] == "diverged"
            and s["live"] == "true"
            and float(s["runLr"]) == 10
        ),
        what="diverging again at lr 10",
    )
    assert run_id(page) == first and again["divergedNode"] == node, again
    expect(page.get_by_test_id(f"diverged-{node}")).to_be_visible()
    assert page.get_by_test_id("train-lr").input_value() == "10"

    # ... so type the example's own rate and resume: the same run goes on from its last finite
    # weights and fits
    at = step_of(page)
    setting(page, "lr", "0.5")  # live: PATCHed to the held run
    wait_for(page, lambda s: float(s["runLr"]) == 0.5, what="lr 0.5 on the held run")
    page.get_by_test_id("btn-train-play").click()
    on = wait_for(
        page,
        lambda s: s["status"] in ("running", "done") and int(s.get("metricsStep", 0)) >= at + 5,
        what="training on at lr 0.5",
    )
    assert run_id(page) == first  # resumed, not restarted
    expect(page.get_by_test_id(f"diverged-{node}")).to_have_count(0)
    expect(page.get_by_test_id("diverged-banner")).to_have_count(0)
    assert "divergedNode" not in on, on
    assert float(on["lr"]) == 0.5 and math.isfinite(float(on["loss"])), on
    screenshot("training-diverged-resumed")
    done = wait_for(page, finished("done"), timeout=30, what="the resumed run to finish")
    assert run_id(page) == first, done
    losses = [p["loss"] for p in metrics(live_server.url, first) if p["step"] > at]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < 1e-3 * losses[0], losses
    # the fit panel draws the line through the samples
    expect(page.get_by_test_id("boundary-view")).to_have_attribute("data-kind", "curve")
    screenshot("training-linear-fit")
    assert console_errors == []


def test_reload_and_server_restart_keep_the_run(page: Page, tmp_path: Path, screenshot):
    port = free_port()
    db = tmp_path / "restart.sqlite"
    env = {"BLOCKPROP_CHECKPOINT_SECONDS": "0.5"}
    server = start_server(tmp_path, env=env, port=port, database=db)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(server.url + "/")
        open_example(page, "spiral")
        setting(page, "epochs", "100000")
        setting(page, "speed", "50")
        page.get_by_test_id("btn-train-play").click()
        wait_for(page, lambda s: int(s.get("step", 0)) >= 30, what="30 steps")
        rid = run_id(page)

        # leave and come back: the URL names the run, and the page shows its state
        page.goto(server.url + "/?run=" + rid)
        back = wait_for(page, lambda s: s.get("status") == "running", what="the run after a reload")
        assert int(back["step"]) >= 30
        wait_for(page, lambda s: int(s["step"]) > int(back["step"]) + 20, what="live again")
        expect(page.get_by_test_id("node-live-l1")).to_be_visible()

        # the server goes away and comes back: the page reconnects and resyncs
        server.stop()
        wait_for(page, lambda s: s.get("connection") == "reconnecting", what="reconnecting")
        server = start_server(tmp_path, env=env, port=port, database=db)
        wait_for(page, lambda s: s.get("status") == "interrupted", timeout=30, what="resync")
        screenshot("training-interrupted")
        before = step_of(page)
        page.get_by_test_id("btn-train-play").click()
        wait_for(
            page,
            lambda s: s["status"] == "running" and int(s["step"]) > before + 10,
            timeout=30,
            what="resumed after the restart",
        )
        points = metrics(server.url, rid)
        steps = [p["step"] for p in points]
        assert steps == list(range(1, len(steps) + 1))  # no gap, no repeat
        stop_page_runs(page, server.url)
    finally:
        server.stop()
    # only the expected noise of a server that went away
    unexpected = [e for e in errors if "WebSocket" not in e and "Failed to load resource" not in e]
    assert unexpected == []


def test_a_50_node_graph_trains_with_live_views_at_twenty_snapshots_a_second(
    trainer: Page, tmp_path: Path, console_errors, screenshot
):
    """The 52-node chain trains with its live views at 20 snapshots a second: the page receives
    snapshots over its WebSocket, its node views show new steps, and frames keep being drawn.
    How smooth the page stays meanwhile (long tasks, frame times, snapshots received and shown
    per second, against the idle page) is measured by tests/bench/bench_page.py."""
    page = trainer
    doc = load_chain(page, tmp_path)
    assert len(doc["nodes"]) == 52
    snapshots = record_snapshots(page)
    page.get_by_test_id("btn-train-play").click()
    view = page.get_by_test_id(f"node-live-{WATCHED}")
    expect(view).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("node-live-h0")).to_be_visible()
    first = int(view.get_attribute("data-step") or 0)
    start_probe(page)
    # the last hidden layer's view takes new steps while the page draws frames
    page.wait_for_function(
        "() => window.__perf.shown >= 5 && window.__perf.frames.length >= 10", timeout=60_000
    )
    perf = stop_probe(page)
    assert int(view.get_attribute("data-step")) > first, perf["shown"]
    deadline = time.monotonic() + 20
    while len(snapshots) < 5:  # the WebSocket frames' events reach Python as the page works
        assert time.monotonic() < deadline, f"{len(snapshots)} snapshot frames seen"
        page.wait_for_timeout(50)
    wait_for(page, lambda s: s["status"] == "running", what="the run running")
    screenshot("training-50-nodes")
    assert console_errors == []


def test_an_uploaded_csv_previews_and_trains(trainer: Page, tmp_path: Path, console_errors):
    page = trainer
    rows = ["a,b,label"]
    for i in range(60):  # two clusters, opposite corners
        k = i % 2
        rows.append(f"{(i % 7) * 0.05 + 2 * k:.2f},{(i % 5) * 0.05 - 2 * k:.2f},{k}")
    csv = tmp_path / "corners.csv"
    csv.write_text("\n".join(rows) + "\n")
    open_example(page, "spiral")
    page.get_by_test_id("train-tab-data").click()
    page.get_by_test_id("dataset-upload").set_input_files(str(csv))
    expect(page.get_by_test_id("train-message")).to_contain_text("60 rows")
    select = page.get_by_test_id("dataset-select")
    assert select.input_value().startswith("upload-")
    expect(page.get_by_test_id("dataset-preview")).to_have_attribute("data-rows", "60")
    setting(page, "epochs", "20")
    page.get_by_test_id("btn-train-play").click()
    done = wait_for(page, finished("done"), what="the run on the upload")
    assert float(done["accuracy"]) == 1.0
    expect(page.get_by_test_id("boundary-view")).to_be_visible()
    assert console_errors == []
