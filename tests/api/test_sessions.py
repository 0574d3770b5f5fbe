"""Classroom sessions: create, read, change with the edit token only, follow over WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from .conftest import XOR_GRAPH, assert_error, graph, recv_json

VIEW = {"explain": {"inputs": {"x": [[0.1, 0.2]], "y": [[1.0]]}, "step": 3, "node": "h"}}


def create(api, **body: Any) -> dict[str, Any]:
    r = api.post("/api/sessions", json={"graph": XOR_GRAPH, **body})
    assert r.status_code == 201, r.text
    return r.json()


def follow(api, session: dict[str, Any], **kw: Any) -> Any:
    return websockets.connect(api.ws_url(f"/api/sessions/{session['id']}/stream"), **kw)


def test_create_read_update_end(api):
    s = create(api, view=VIEW)
    assert s["follow_path"] == f"/follow/{s['id']}"
    assert s["edit_token"] and s["version"] == 1 and s["graph_version"] == 1
    assert s["view"]["explain"]["step"] == 3 and s["followers"] == 0
    got = api.get(f"/api/sessions/{s['id']}").json()
    assert "edit_token" not in got and got["graph"]["nodes"] == XOR_GRAPH["nodes"]

    headers = {"X-Edit-Token": s["edit_token"]}
    r = api.patch(
        f"/api/sessions/{s['id']}", json={"view": {"explain": {"step": 4}}}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["graph_version"] == 1
    r = api.patch(f"/api/sessions/{s['id']}", json={"graph": graph(name="v2")}, headers=headers)
    assert r.json()["graph_version"] == 2 and r.json()["graph"]["name"] == "v2"
    assert r.json()["view"]["explain"]["step"] == 4  # the view is kept

    assert api.delete(f"/api/sessions/{s['id']}", headers=headers).status_code == 204
    assert_error(api.get(f"/api/sessions/{s['id']}"), 404, "not_found")


def test_changes_need_the_edit_token(api):
    s = create(api)
    path = f"/api/sessions/{s['id']}"
    assert_error(api.patch(path, json={"view": {}}), 403, "edit_token_required")
    bad = {"X-Edit-Token": "nope"}
    assert_error(api.patch(path, json={"view": {}}, headers=bad), 403, "bad_edit_token")
    assert_error(api.delete(path, headers=bad), 403, "bad_edit_token")
    assert api.get(path).json()["version"] == 1


def test_bad_bodies_and_unknown_sessions(api):
    assert_error(api.post("/api/sessions", json={"graph": XOR_GRAPH, "id": "mine"}), 422)
    assert_error(
        api.post("/api/sessions", json={"graph": XOR_GRAPH, "view": {"explain": {"step": -1}}}),
        422,
    )
    r = api.patch("/api/sessions/nope", json={"view": {}}, headers={"X-Edit-Token": "x"})
    assert_error(r, 404, "not_found")


def test_the_view_carries_the_module_instances_stepped_into(api):
    """Followers walk the same steps: which instances the teacher stepped into travels along."""
    into = ["forward:b1", "backward:o/i1"]
    s = create(api, view={"explain": {"step": 5, "into": into}})
    assert api.get(f"/api/sessions/{s['id']}").json()["view"]["explain"]["into"] == into
    assert create(api, view={"explain": {}})["view"]["explain"]["into"] == []
    too_long = {"explain": {"into": ["forward:" + "b" * 400]}}
    assert_error(api.post("/api/sessions", json={"graph": XOR_GRAPH, "view": too_long}), 422)


def test_foreign_origins_cannot_change_or_follow(api, live_server):
    s = create(api)
    headers = {"X-Edit-Token": s["edit_token"], "Origin": "http://evil.example"}
    r = api.patch(f"/api/sessions/{s['id']}", json={"view": {}}, headers=headers)
    assert_error(r, 403, "forbidden_origin")
    assert_error(
        api.post("/api/sessions", json={"graph": XOR_GRAPH}, headers={"Origin": "null"}),
        403,
        "forbidden_origin",
    )

    async def go():
        for origin in ("http://evil.example", "null"):
            with pytest.raises(websockets.InvalidStatus) as info:
                async with follow(api, s, origin=origin):
                    pass
            assert info.value.response.status_code == 403
        async with follow(api, s, origin=live_server.url) as ws:
            assert (await recv_json(ws))["type"] == "hello"

    asyncio.run(go())


def test_following_an_unknown_session_is_refused(api):
    async def go():
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(api.ws_url("/api/sessions/nope/stream")):
                pass
        assert info.value.response.status_code == 404

    asyncio.run(go())


def test_followers_see_every_change_and_the_end(api):
    s = create(api, view=VIEW)
    headers = {"X-Edit-Token": s["edit_token"]}

    async def go():
        async with follow(api, s) as ws:
            hello = await recv_json(ws)
            assert hello["type"] == "hello"
            assert hello["session"]["view"]["explain"]["step"] == 3
            assert hello["session"]["graph"]["nodes"] == XOR_GRAPH["nodes"]
            # a follower's messages change nothing: they are answered by an error frame
            await ws.send('{"type": "state", "view": {"explain": {"step": 99}}}')
            refused = await recv_json(ws)
            assert refused["type"] == "error" and refused["error"]["code"] == "invalid_message"
            await asyncio.to_thread(
                api.patch,
                f"/api/sessions/{s['id']}",
                json={"view": {"explain": {"step": 5}}},
                headers=headers,
            )
            state = await recv_json(ws)
            assert state["type"] == "state" and state["view"]["explain"]["step"] == 5
            assert "graph" not in state and state["followers"] == 1
            await asyncio.to_thread(
                api.patch,
                f"/api/sessions/{s['id']}",
                json={"graph": graph(name="g2")},
                headers=headers,
            )
            state = await recv_json(ws)
            assert state["graph"]["name"] == "g2" and state["graph_version"] == 2
            assert api.get(f"/api/sessions/{s['id']}").json()["view"]["explain"]["step"] == 5
            await asyncio.to_thread(api.delete, f"/api/sessions/{s['id']}", headers=headers)
            assert (await recv_json(ws))["type"] == "closed"

    asyncio.run(go())


def test_a_late_follower_gets_the_current_state(api):
    s = create(api)
    headers = {"X-Edit-Token": s["edit_token"]}
    for step in range(1, 4):
        api.patch(
            f"/api/sessions/{s['id']}", json={"view": {"explain": {"step": step}}}, headers=headers
        )

    async def go():
        async with follow(api, s) as ws:
            hello = await recv_json(ws)
            assert hello["session"]["view"]["explain"]["step"] == 3
            assert hello["session"]["version"] == 4
            assert api.get(f"/api/sessions/{s['id']}").json()["followers"] == 1

    asyncio.run(go())
