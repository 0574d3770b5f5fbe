"""The session hub: tokens, versions, latest-wins fan-out, slow followers, limits, expiry."""

from __future__ import annotations

import asyncio
import json

import pytest

from blockprop.service.errors import ServiceError
from blockprop.service.sessions import SessionHub

GRAPH = {"version": 1, "nodes": []}


class Sink:
    """A fake socket: records frames; `gate` (when given) blocks sends until set."""

    def __init__(self, gate: asyncio.Event | None = None):
        self.frames: list[dict] = []
        self.gate = gate

    async def send(self, text: str) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.frames.append(json.loads(text))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_updates_need_the_token_and_bump_versions():
    hub = SessionHub()
    s, token = hub.create(GRAPH, {})
    with pytest.raises(ServiceError) as e:
        hub.update(s.id, None, view={"present": True})
    assert e.value.status == 403 and e.value.code == "edit_token_required"
    with pytest.raises(ServiceError) as e:
        hub.update(s.id, "wrong", view={})
    assert e.value.code == "bad_edit_token"
    hub.update(s.id, token, view={"present": True})
    assert (s.version, s.graph_version) == (2, 1)
    hub.update(s.id, token, graph={"version": 1, "nodes": [], "name": "b"})
    assert (s.version, s.graph_version) == (3, 2) and s.view == {"present": True}
    hub.end(s.id, token)
    with pytest.raises(ServiceError) as e:
        hub.get(s.id)
    assert e.value.status == 404


def test_fan_out_is_latest_wins_and_sends_the_graph_only_when_it_changed():
    async def go():
        hub = SessionHub()
        s, token = hub.create(GRAPH, {})
        fast, gate = Sink(), asyncio.Event()
        slow = Sink(gate)
        f1 = hub.follow(s.id, fast.send)
        f2 = hub.follow(s.id, slow.send)
        await settle()
        for step in range(1, 6):
            hub.update(s.id, token, view={"explain": {"step": step}})
            await settle()
        hub.update(s.id, token, graph={"version": 1, "nodes": [], "name": "new"})
        await settle()
        steps = [f["view"]["explain"]["step"] for f in fast.frames if f["type"] == "state"][:5]
        assert steps == [1, 2, 3, 4, 5]
        assert "graph" not in fast.frames[1] and fast.frames[-1]["graph"]["name"] == "new"
        gate.set()  # the slow one catches up with the newest state only
        await settle()
        assert [f["type"] for f in slow.frames] == ["hello", "state"]
        assert slow.frames[-1]["graph"]["name"] == "new"
        hub.end(s.id, token)
        await settle()
        assert fast.frames[-1]["type"] == "closed"
        await hub.unfollow(f1)
        await hub.unfollow(f2)

    asyncio.run(go())


def test_a_stalled_follower_is_dropped_without_delaying_the_others():
    async def go():
        hub = SessionHub(send_timeout=0.05)
        s, token = hub.create(GRAPH, {})
        stalled = hub.follow(s.id, Sink(asyncio.Event()).send)  # never accepts anything
        ok = Sink()
        hub.follow(s.id, ok.send)
        await settle()
        hub.update(s.id, token, view={"explain": {"step": 1}})
        await settle()
        assert ok.frames[-1]["view"]["explain"]["step"] == 1
        deadline = asyncio.get_running_loop().time() + 10
        while not stalled.closed:  # the send timeout gives up on it
            assert asyncio.get_running_loop().time() < deadline, "never dropped"
            await asyncio.sleep(0.01)
        assert "accepted nothing" in (stalled.drop_reason or "")
        await hub.shutdown()

    asyncio.run(go())


def test_limits_and_expiry():
    async def go():
        hub = SessionHub(max_sessions=1, max_followers=1, ttl=0.05)
        s, _ = hub.create(GRAPH, {})
        f = hub.follow(s.id, Sink().send)
        with pytest.raises(ServiceError) as e:
            hub.follow(s.id, Sink().send)
        assert e.value.status == 429
        await asyncio.sleep(0.06)
        with pytest.raises(ServiceError) as e:
            hub.create(GRAPH, {})  # the followed session does not expire
        assert e.value.code == "too_many_sessions"
        await hub.unfollow(f)
        await asyncio.sleep(0.06)
        hub.create(GRAPH, {})  # now the idle one has expired and made room
        assert s.id not in hub.sessions

    asyncio.run(go())
