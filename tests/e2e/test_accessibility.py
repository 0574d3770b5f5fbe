"""Accessibility goals of issue 16, measured with axe-core (bundled by axe-playwright-python)
in a real Chromium: no serious or critical violation on the editor, the training dock, explain
mode, present mode and a student's follow page. Screenshots in test-results/screenshots/a11y-*.

Lighthouse's accessibility score is built on the same axe-core rules; at about 15 s a page it
is measured by hand with tests/e2e/lighthouse_a11y.py (1.0 on all four pages here)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from graphs import TWO_LAYER
from playwright.sync_api import Browser, Page, expect

SLOW = 15_000
GRAVE = ("serious", "critical")


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


def assert_clean(page: Page, where: str = "") -> None:
    found = grave(page)
    assert not found, f"{where}\n" + "\n".join(found)


def grave(page: Page) -> list[str]:
    """The serious and critical axe violations of the page, one line per rule and element."""
    result = Axe().run(page)
    out = []
    for v in result.response["violations"]:
        if v["impact"] in GRAVE:
            for n in v["nodes"][:5]:
                out.append(
                    f"{v['id']} ({v['impact']}): {n['target']} {n.get('failureSummary', '')[:230]}"
                )
    return out


def store(url: str, graph: dict[str, Any]) -> str:
    r = httpx.post(f"{url}/api/graphs", json={"graph": graph}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_editor_and_training_dock(live_server, page: Page, console_errors, screenshot):
    page.goto(live_server.url + "/")
    expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
    assert_clean(page)
    gid = store(live_server.url, TWO_LAYER)
    page.goto(f"{live_server.url}/g/{gid}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    page.get_by_test_id("node-l1").click()  # the inspector with a node's fields
    expect(page.get_by_test_id("inspector-node")).to_be_visible()
    assert_clean(page)
    # the dock's tabs, each
    for tab in page.locator("[data-testid^='train-tab-']").all():
        tab.click()
        assert_clean(page, tab.get_attribute("data-testid"))
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-overlay")).to_be_visible()
    assert_clean(page)
    page.keyboard.press("Escape")
    screenshot("a11y-editor")
    assert console_errors == []


def test_explain_present_and_follow(
    live_server, page: Page, browser: Browser, console_errors, screenshot
):
    url = live_server.url
    gid = store(url, TWO_LAYER)
    page.goto(f"{url}/g/{gid}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    page.get_by_test_id("btn-explain").click()
    expect(page.get_by_test_id("explain-card")).to_be_visible()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert_clean(page)
    screenshot("a11y-explain")

    page.get_by_test_id("btn-broadcast").click()
    link = page.get_by_test_id("broadcast-link").input_value()
    student = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    try:
        student.goto(link)
        expect(student.get_by_test_id("follow-status")).to_be_visible(timeout=SLOW)
        expect(student.get_by_test_id("explain-card")).to_be_visible(timeout=SLOW)
        assert_clean(student)
    finally:
        student.context.close()

    page.goto(f"{url}/g/{gid}?present=1&explain=1&step=3")
    expect(page.get_by_test_id("explain-card")).to_be_visible(timeout=SLOW)
    assert_clean(page)
    screenshot("a11y-present")
    assert console_errors == [], json.dumps(console_errors)
