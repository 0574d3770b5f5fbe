"""The experiment travels with the document, in a real Chromium: the dock's dataset and
settings are saved with the graph, and a fresh browser (nothing in its storage) opening the
share link gets them back."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf import setting  # noqa: E402  (tests/e2e/perf.py)

SLOW = 20_000


def test_a_share_link_restores_the_dataset_and_settings(live_server, browser: Browser):
    teacher = browser.new_context()
    page = teacher.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(live_server.url + "/")
    expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id("example-iris").click()
    expect(page.locator(".react-flow__node").first).to_be_visible(timeout=SLOW)
    setting(page, "epochs", "7")
    page.get_by_test_id("train-optimizer").select_option("momentum")
    page.get_by_test_id("btn-save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("saved", timeout=SLOW)
    link = page.url
    graph_id = link.rstrip("/").rsplit("/", 1)[1]
    stored = httpx.get(f"{live_server.url}/api/graphs/{graph_id}", timeout=10).json()["graph"]
    assert stored["dataset"]["name"] == "iris"
    assert stored["train"]["epochs"] == 7 and stored["train"]["optimizer"] == "momentum"
    teacher.close()

    student = browser.new_context()  # another browser: nothing of the teacher's stored here
    page = student.new_page()
    page.goto(link)
    expect(page.locator(".react-flow__node").first).to_be_visible(timeout=SLOW)
    page.get_by_test_id("train-tab-settings").click()
    expect(page.get_by_test_id("train-epochs")).to_have_value("7")
    expect(page.get_by_test_id("train-optimizer")).to_have_value("momentum")
    page.get_by_test_id("train-tab-data").click()
    expect(page.get_by_test_id("dataset-select")).to_have_value("iris")
    student.close()
