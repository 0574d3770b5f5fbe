"""Classroom sessions in Redis (`BLOCKPROP_REDIS_URL`, issue 14): two replicas on one Redis and
one SQLite file serve every session's followers, and a session outlives a server restart.
Skipped, saying why, where redis-server or the `redis` package is missing (tests/redis_server.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import websockets

from .conftest import XOR_GRAPH, Api, assert_error, graph, recv_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from redis_server import redis_server, redis_url  # noqa: E402, F401  (fixtures)


def test_two_replicas_share_sessions_and_a_restart_ends_none(private_server, request, tmp_path):
    url = request.getfixturevalue("redis_url")  # skips where there is no Redis
    env = {"BLOCKPROP_REDIS_URL": url, "BLOCKPROP_WS_SEND_TIMEOUT": "2"}
    database = tmp_path / "shared.sqlite"
    a = private_server(env=env, database=database)
    b = private_server(env=env, database=database)
    api_a, api_b = Api(a.url), Api(b.url)
    try:
        r = api_a.post("/api/sessions", json={"graph": XOR_GRAPH, "view": {"explain": {"step": 1}}})
        assert r.status_code == 201, r.text
        s = r.json()
        path, headers = f"/api/sessions/{s['id']}", {"X-Edit-Token": s["edit_token"]}
        stream = f"/api/sessions/{s['id']}/stream"

        async def follow_on_a_change_on_b() -> None:
            async with websockets.connect(api_a.ws_url(stream)) as ws:
                hello = await recv_json(ws)
                assert hello["type"] == "hello" and hello["session"]["version"] == 1
                assert hello["session"]["view"]["explain"]["step"] == 1
                # changed on B: reaches the follower on A through Redis
                sent = time.monotonic()
                r = await asyncio.to_thread(
                    api_b.patch, path, json={"view": {"explain": {"step": 2}}}, headers=headers
                )
                assert r.status_code == 200, r.text
                assert r.json()["version"] == 2
                frame = await recv_json(ws, timeout=10)
                delay = time.monotonic() - sent
                print(
                    f"a view change on B reached the follower on A in {delay * 1000:.1f} ms "
                    "(B's first request: its Redis connection is made then)"
                )
                assert frame["type"] == "state" and frame["version"] == 2
                assert frame["view"]["explain"]["step"] == 2 and "graph" not in frame
                # a graph change carries the graph
                sent = time.monotonic()
                r = await asyncio.to_thread(
                    api_b.patch, path, json={"graph": graph(name="v2")}, headers=headers
                )
                assert r.status_code == 200, r.text
                frame = await recv_json(ws, timeout=10)
                delay = time.monotonic() - sent
                print(f"a graph change on B reached the follower on A in {delay * 1000:.1f} ms")
                assert frame["graph_version"] == 2 and frame["graph"]["name"] == "v2"
                assert frame["view"]["explain"]["step"] == 2
                # a second session made on B, followed on A while A already listens
                r = await asyncio.to_thread(api_b.post, "/api/sessions", json={"graph": XOR_GRAPH})
                other = r.json()
                other_path = f"/api/sessions/{other['id']}"
                async with websockets.connect(api_a.ws_url(other_path + "/stream")) as ws2:
                    assert (await recv_json(ws2))["session"]["id"] == other["id"]
                    r = await asyncio.to_thread(
                        api_b.patch,
                        other_path,
                        json={"view": {"explain": {"step": 7}}},
                        headers={"X-Edit-Token": other["edit_token"]},
                    )
                    assert r.status_code == 200, r.text
                    frame = await recv_json(ws2, timeout=10)
                    assert frame["view"]["explain"]["step"] == 7 and frame["version"] == 2

        asyncio.run(follow_on_a_change_on_b())
        got = api_b.get(path).json()
        assert got["version"] == 3 and got["graph"]["name"] == "v2"
        assert "edit_token" not in got and "edit_hash" not in got
        assert_error(api_b.patch(path, json={"view": {}}), 403, "edit_token_required")

        # A restarts (same port, database and Redis): the session is still there
        a.stop()
        a = private_server(env=env, database=database, port=a.port)
        got = api_a.get(path).json()
        assert got["version"] == 3 and got["view"]["explain"]["step"] == 2

        async def follow_on_a_end_on_b() -> None:
            async with websockets.connect(api_a.ws_url(stream)) as ws:
                hello = await recv_json(ws)
                assert hello["session"]["version"] == 3
                assert hello["session"]["graph"]["name"] == "v2"
                assert hello["session"]["followers"] == 1
                sent = time.monotonic()
                r = await asyncio.to_thread(api_b.delete, path, headers=headers)
                assert r.status_code == 204, r.text
                frame = await recv_json(ws, timeout=10)
                delay = time.monotonic() - sent
                print(f"the end on B reached the follower on A in {delay * 1000:.1f} ms")
                assert frame == {"type": "closed", "reason": "the teacher ended the session"}
                await asyncio.wait_for(ws.wait_closed(), 10)
                assert ws.close_code == 1000

        asyncio.run(follow_on_a_end_on_b())
        assert_error(api_a.get(path), 404, "not_found")
        assert_error(api_b.get(path), 404, "not_found")
    finally:
        api_a.close()
        api_b.close()


def test_an_idle_session_expires_in_redis(private_server, request):
    url = request.getfixturevalue("redis_url")
    server = private_server(env={"BLOCKPROP_REDIS_URL": url, "BLOCKPROP_SESSION_IDLE_SECONDS": "1"})
    api = Api(server.url)
    try:
        s = api.post("/api/sessions", json={"graph": XOR_GRAPH}).json()
        path = f"/api/sessions/{s['id']}"

        async def followed_it_stays() -> None:  # followers keep it alive past the idle time
            async with websockets.connect(api.ws_url(path + "/stream")) as ws:
                assert (await recv_json(ws))["type"] == "hello"
                await asyncio.sleep(1.6)

        asyncio.run(followed_it_stays())
        assert api.get(path).status_code == 200
        time.sleep(1.6)
        assert_error(api.get(path), 404, "not_found")
    finally:
        api.close()
