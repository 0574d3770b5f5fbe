"""Playwright in a real Chromium: find the browser, and fail any page that logs an error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chromium import LAUNCH_ARGS, find_chromium  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = find_chromium()
    if path is None:
        pytest.fail("no Chromium found: run `python tests/e2e/chromium.py` (make test does)")
    args = {**browser_type_launch_args, "args": LAUNCH_ARGS}
    if path:
        args["executable_path"] = path
    return args


@pytest.fixture
def console_errors(page):
    """Collects console errors and page errors; the test asserts it is empty at the end."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@pytest.fixture
def screenshot(page):
    def take(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
