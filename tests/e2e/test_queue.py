"""A whole class trains at once (issue 13), in a real Chromium against a real server whose
pool is full: ▶ queues the page's run and the status line says where it waits (a screen reader
hears it); when the place frees, the run starts by itself and trains; the pool's load line
shows the numbers all along."""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import start_server  # noqa: E402  (tests/conftest.py)

SLOW = 20_000
# One place in the pool and no per-client cap: the run made over REST takes the place, the
# page's run waits for it.
FULL_POOL = {"BLOCKPROP_MAX_RUNS": "1", "BLOCKPROP_MAX_RUNS_PER_CLIENT": "0"}
# A long run paced at 20 steps/s (what a student watches): it holds the place, cheaply.
BLOCKER = {
    "dataset": {"name": "xor", "n": 64, "noise": 0.1},
    "train": {"epochs": 1_000_000, "optimizer": "adam", "lr": 0.01, "speed": 20},
}


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}}


def status(page: Page) -> dict[str, str]:
    return page.get_by_test_id("run-status").evaluate("e => ({...e.dataset})")


def test_a_queued_run_says_where_it_waits_then_starts_by_itself(
    page: Page, tmp_path: Path, console_errors, screenshot
):
    server = start_server(tmp_path, env=FULL_POOL)
    url = server.url
    http = httpx.Client(base_url=url, timeout=30, headers={"Origin": url})
    try:
        xor = http.get("/api/examples/xor").json()["graph"]
        r = http.post("/api/runs", json={"graph": xor, **BLOCKER})
        assert r.status_code == 201, r.text
        blocker = r.json()
        assert blocker["status"] == "running", blocker  # the one place is taken

        # every call of the page says which browser it comes from
        client_ids: set[str] = set()

        def on_request(req) -> None:
            if req.method == "POST" and req.url.endswith("/api/runs"):
                client_ids.add(req.headers.get("x-client-id", ""))

        page.on("request", on_request)
        page.on("dialog", lambda d: d.accept())
        page.goto(url + "/")
        expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
        load = page.get_by_test_id("pool-load")
        expect(load).to_have_text(re.compile(r"^pool: 1 training · 0 waiting · CPU \d+ %$"))
        expect(load).to_have_attribute("title", re.compile("waiting for a place"))

        page.get_by_test_id("btn-examples").click()
        page.get_by_test_id("example-spiral").click()
        expect(page.locator(".react-flow__node").first).to_be_visible(timeout=SLOW)
        page.get_by_test_id("btn-train-play").click()

        # queued: where it stands, said in the status line and to a screen reader
        run_status = page.get_by_test_id("run-status")
        expect(run_status).to_have_attribute("data-status", "queued", timeout=SLOW)
        expect(run_status).to_have_attribute("data-queue-position", "1")
        expect(page.get_by_test_id("run-badge")).to_have_text(
            re.compile(r"^waiting — you are next( \((about .+|over an hour)\))?$")
        )
        expect(page.get_by_test_id("run-announce")).to_have_text(
            re.compile(r"^Training run: waiting — you are next")
        )
        expect(page.get_by_test_id("btn-train-stop")).to_be_enabled()
        expect(page.get_by_test_id("btn-train-pause")).to_be_disabled()
        expect(page.get_by_test_id("btn-train-step")).to_be_disabled()
        assert len(client_ids) == 1 and re.fullmatch(r"[A-Za-z0-9_-]{8,64}", client_ids.pop())
        # the load line catches up at its next look (every 5 s)
        expect(load).to_have_attribute("data-queued", "1", timeout=SLOW)
        expect(load).to_have_text(re.compile(r"^pool: 1 training · 1 waiting · CPU \d+ %$"))
        screenshot("queue-waiting")

        # the place frees: the page's run starts by itself and trains
        r = http.post(
            f"/api/runs/{blocker['id']}/stop", headers={"X-Edit-Token": blocker["edit_token"]}
        )
        assert r.status_code == 200, r.text
        expect(run_status).to_have_attribute(
            "data-status", re.compile("^(running|done)$"), timeout=SLOW
        )
        expect(page.get_by_test_id("run-announce")).not_to_contain_text("waiting")
        expect(run_status).not_to_have_attribute("data-queue-position", re.compile("."))
        # the loss chart gets points
        expect(run_status).to_have_attribute(
            "data-metrics-step", re.compile(r"^[1-9]\d*$"), timeout=SLOW
        )
        assert float(status(page)["loss"]) > 0
        expect(page.get_by_test_id("run-loss")).to_have_text(re.compile(r"^loss \d"))
        expect(load).to_have_attribute("data-queued", "0", timeout=SLOW)
        screenshot("queue-started")
        assert console_errors == []
    finally:
        with contextlib.suppress(Exception):
            tokens = page.evaluate(
                """() => Object.keys(localStorage).filter(k => k.startsWith('blockprop:runtoken:'))
                     .map(k => [k.slice(19), localStorage.getItem(k)])"""
            )
            for run_id, token in tokens:
                http.post(f"/api/runs/{run_id}/stop", headers={"X-Edit-Token": token}, timeout=5)
        http.close()
        server.stop()
