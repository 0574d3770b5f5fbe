"""Lighthouse's desktop accessibility score ≥ 0.98 on the editor, explain, present and follow
pages (issue 16), with the Lighthouse the frontend installs (a dev dependency) driving the same
Chromium the browser tests use. Skipped, saying why, where that Lighthouse is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chromium import find_chromium  # noqa: E402
from lighthouse_a11y import GOAL, pages, score  # noqa: E402

LIGHTHOUSE = Path(__file__).resolve().parents[2] / "frontend/node_modules/.bin/lighthouse"


def test_every_page_scores_at_least_the_goal(live_server, browser_type):
    if not LIGHTHOUSE.exists():
        pytest.skip(f"no Lighthouse at {LIGHTHOUSE} (cd frontend && npm ci)")
    chrome = find_chromium() or browser_type.executable_path  # the system's, else Playwright's
    scores = {}
    for name, url in pages(live_server.url).items():
        value, failing = score(str(LIGHTHOUSE), url, chrome)
        scores[name] = (value, failing)
    assert all(v >= GOAL for v, _ in scores.values()), scores
