"""A student following in Chromium stays with the class when their replica restarts (issue 14):
sessions live in Redis, the restarting replica closes its followers with 1012 (service restart),
the follow page reconnects by itself, and the teacher's next change — made on the other
replica — reaches it. Skipped, saying why, where no Redis server can be started."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from blockprop.examples import get_example

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import start_server  # noqa: E402
from redis_server import redis_server, redis_url  # noqa: E402, F401  (fixtures)

SLOW = 20_000


def test_a_follower_reconnects_across_a_replica_restart(page: Page, request, tmp_path, screenshot):
    url = request.getfixturevalue("redis_url")  # skips where there is no Redis
    env = {"BLOCKPROP_REDIS_URL": url}
    shared = tmp_path / "shared.sqlite"
    folders = [tmp_path / name for name in ("a", "b", "a2")]
    for f in folders:
        f.mkdir()
    a = start_server(folders[0], env=env, database=shared)
    b = start_server(folders[1], env=env, database=shared)
    servers = [a, b]
    try:
        xor = get_example("xor")["graph"]
        session = httpx.post(f"{b.url}/api/sessions", json={"graph": xor}).json()
        student = page
        student.goto(f"{a.url}/follow/{session['id']}")
        status = student.get_by_test_id("follow-status")
        expect(status).to_have_attribute("data-state", "live", timeout=SLOW)
        nodes = student.locator(".react-flow__node")
        expect(nodes).to_have_count(len(xor["nodes"]), timeout=SLOW)

        a.stop()  # a graceful restart of the student's replica: followers hear 1012
        expect(status).not_to_have_attribute("data-state", "live", timeout=SLOW)
        servers.append(start_server(folders[2], env=env, port=a.port, database=shared))
        expect(status).to_have_attribute("data-state", "live", timeout=SLOW)

        linear = get_example("linear_regression")["graph"]
        assert len(linear["nodes"]) != len(xor["nodes"])
        r = httpx.patch(
            f"{b.url}/api/sessions/{session['id']}",
            json={"graph": linear},
            headers={"X-Edit-Token": session["edit_token"]},
        )
        assert r.status_code == 200, r.text
        expect(nodes).to_have_count(len(linear["nodes"]), timeout=SLOW)
        screenshot("follow-after-replica-restart")
    finally:
        for s in servers:
            s.stop()
