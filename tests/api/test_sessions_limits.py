"""Classroom sessions hold bounded memory: a cap on their JSON, and idle ones expire."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import websockets

from .conftest import XOR_GRAPH, Api, assert_error

CAP = 100_000  # bytes of session JSON, all sessions together
IDLE = 1.0  # seconds


def padded(size: int) -> dict[str, Any]:
    """The XOR graph grown to about `size` bytes of JSON by a note in its layout data."""
    doc = copy.deepcopy(XOR_GRAPH)
    doc["nodes"][0]["ui"] = {"note": "x" * max(0, size - len(json.dumps(XOR_GRAPH)))}
    return doc


def create(api: Api, size: int) -> Any:
    return api.post("/api/sessions", json={"graph": padded(size)})


def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_sessions_memory_cap_is_enforced_with_clear_errors(private_server):
    server = private_server(env={"BLOCKPROP_MAX_SESSION_BYTES": str(CAP)})
    api = Api(server.url)
    try:
        # one session alone larger than the cap can never fit: 413
        err = assert_error(create(api, 150_000), 413, "too_large")
        assert "MB" in err["message"]
        a, b = create(api, 40_000), create(api, 40_000)
        assert a.status_code == b.status_code == 201, (a.text, b.text)
        a, b = a.json(), b.json()
        # a third does not fit beside them: 429, to retry once sessions have ended
        full = create(api, 40_000)
        err = assert_error(full, 429, "too_many_sessions")
        assert "retry" in err["message"] and int(full.headers["Retry-After"]) >= 1
        # an update that grows a session past the cap is refused the same way, and changes
        # nothing; one that fits goes through
        path, headers = f"/api/sessions/{a['id']}", {"X-Edit-Token": a["edit_token"]}
        grown = api.patch(path, json={"graph": padded(70_000)}, headers=headers)
        assert_error(grown, 429, "too_many_sessions")
        assert "Retry-After" in grown.headers
        assert api.get(path).json()["graph_version"] == 1
        ok = api.patch(path, json={"view": {"present": True}}, headers=headers)
        assert ok.status_code == 200, ok.text
        # ending a session gives its room back
        gone = api.delete(f"/api/sessions/{b['id']}", headers={"X-Edit-Token": b["edit_token"]})
        assert gone.status_code == 204
        assert create(api, 40_000).status_code == 201
    finally:
        api.close()


def test_an_idle_session_expires_but_a_followed_or_changed_one_does_not(private_server):
    server = private_server(env={"BLOCKPROP_SESSION_IDLE_SECONDS": str(IDLE)})
    api = Api(server.url)
    try:
        idle, followed, changed = (create(api, 1_000).json() for _ in range(3))

        async def scenario() -> dict[str, Any]:
            url = api.ws_url(f"/api/sessions/{followed['id']}/stream")
            async with websockets.connect(url) as ws:
                assert json.loads(await ws.recv())["type"] == "hello"
                # the idle one goes; the changed one is patched all along and stays
                expired = await asyncio.to_thread(_expires_while_changing, api, idle, changed)
                # the followed one has outlived its idle time twice over
                outlived = await asyncio.to_thread(
                    wait_until, lambda: time.monotonic() > started + 2 * IDLE, 10
                )
                alive = api.get(f"/api/sessions/{followed['id']}")
            return {"expired": expired, "outlived": outlived, "alive": alive}

        started = time.monotonic()
        out = asyncio.run(scenario())
        assert out["expired"] and out["outlived"]
        assert out["alive"].status_code == 200 and out["alive"].json()["followers"] == 1
        assert_error(api.get(f"/api/sessions/{idle['id']}"), 404, "not_found")

        # once its follower has left, the followed one expires too
        path = f"/api/sessions/{followed['id']}"
        assert wait_until(lambda: api.get(path).status_code == 404, 10)
        assert_error(api.get(path), 404, "not_found")

        async def follow_expired() -> int:
            try:
                async with websockets.connect(api.ws_url(f"{path}/stream")):
                    return 101
            except websockets.InvalidStatus as e:
                return e.response.status_code

        assert asyncio.run(follow_expired()) == 404
    finally:
        api.close()


def _expires_while_changing(api: Api, idle: dict[str, Any], changed: dict[str, Any]) -> bool:
    path, headers = f"/api/sessions/{changed['id']}", {"X-Edit-Token": changed["edit_token"]}
    step = [0]

    def idle_gone() -> bool:
        step[0] += 1
        r = api.patch(path, json={"view": {"explain": {"step": step[0]}}}, headers=headers)
        assert r.status_code == 200, r.text
        return api.get(f"/api/sessions/{idle['id']}").status_code == 404

    gone = wait_until(idle_gone, 10)
    # every patch above went through: the changed one, as old as the idle one, is still there
    assert api.get(path).status_code == 200
    return gone


def test_memory_held_by_expired_sessions_goes_back_without_any_request(private_server):
    from .test_stream_memory import rss

    idle = 5.0  # long enough to create them all on a busy machine before the first expires
    env = {
        "BLOCKPROP_MAX_SESSION_BYTES": str(12 * 2**20),
        "BLOCKPROP_SESSION_IDLE_SECONDS": str(idle),
    }
    server = private_server(env=env)
    api = Api(server.url)
    pid = server.process.pid
    try:
        # warm up: the first sessions' code paths allocate what stays (imports, caches, the
        # allocator's arenas); one round trip first, so the baseline holds them
        first = create(api, 1_900_000).json()
        headers = {"X-Edit-Token": first["edit_token"]}
        assert api.delete(f"/api/sessions/{first['id']}", headers=headers).status_code == 204
        baseline = rss(pid)
        made = [create(api, 1_900_000) for _ in range(6)]
        assert all(r.status_code == 201 for r in made), [r.status_code for r in made]
        expired_by = time.monotonic() + idle
        held = rss(pid) - baseline
        assert held > 10 * 2**20, held  # they did take memory (11 MB of JSON at least)
        # no request from here on: the sweeper alone ends them, and the memory goes back
        back = wait_until(
            lambda: time.monotonic() > expired_by and rss(pid) - baseline < 5 * 2**20, idle + 10
        )
        after = rss(pid) - baseline
        print(
            f"\n6 sessions of 1.9 MB: +{held / 2**20:.0f} MB, after expiry +{after / 2**20:.0f} MB"
        )
        assert back, f"+{after / 2**20:.0f} MB after the sessions expired"
        gone = [api.get(f"/api/sessions/{r.json()['id']}").status_code for r in made]
        assert gone == [404] * 6
    finally:
        api.close()
