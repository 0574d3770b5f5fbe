"""A classroom session followed by many WebSocket clients while the teacher steps through the
explain card, for tests/api/test_sessions_load.py (every follower sees every step) and
tests/bench/bench_followers.py (how soon)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets

from blockprop.examples import get_example


async def follow_steps(
    url: str, followers: int, steps: int, gap: float = 0.0, step_timeout: float = 30.0
) -> dict:
    """`followers` clients follow one session; the teacher (an HTTP client with the edit token)
    moves through `steps` explain steps, each once every follower has the one before (then
    waits `gap` seconds). Returns `sent` {step: perf_counter when the teacher sent it} and
    `seen` [{step: perf_counter when follower i got it}]."""
    ws_base = url.replace("http://", "ws://", 1)
    graph = get_example("notes_network")["graph"]  # a realistic graph (9 nodes, 3 layers)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post("/api/sessions", json={"graph": graph})
        assert r.status_code == 201, r.text
        session = r.json()
        headers = {"X-Edit-Token": session["edit_token"]}
        path = f"/api/sessions/{session['id']}"

        seen: list[dict[int, float]] = [{} for _ in range(followers)]
        arrived: dict[int, asyncio.Event] = {k: asyncio.Event() for k in range(1, steps + 1)}
        counts = dict.fromkeys(arrived, 0)

        async def follower(i: int, ready: asyncio.Event, all_ready: asyncio.Event) -> None:
            async with websockets.connect(f"{ws_base}{path}/stream", max_size=None) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello"
                assert hello["session"]["graph"]["nodes"] == graph["nodes"]
                ready.set()
                await all_ready.wait()
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "closed":
                        return
                    step = (frame["view"].get("explain") or {}).get("step")
                    if step and step not in seen[i]:
                        seen[i][step] = time.perf_counter()
                        counts[step] += 1
                        if counts[step] == followers:
                            arrived[step].set()

        readies = [asyncio.Event() for _ in range(followers)]
        all_ready = asyncio.Event()
        tasks = [asyncio.create_task(follower(i, readies[i], all_ready)) for i in range(followers)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 60)
        all_ready.set()
        assert (await http.get(path)).json()["followers"] == followers

        sent: dict[int, float] = {}
        for step in range(1, steps + 1):
            sent[step] = time.perf_counter()
            r = await http.patch(
                path, json={"view": {"explain": {"step": step, "node": "l1"}}}, headers=headers
            )
            assert r.status_code == 200, r.text
            try:
                await asyncio.wait_for(arrived[step].wait(), step_timeout)
            except TimeoutError:
                missing = [i for i in range(followers) if step not in seen[i]]
                raise AssertionError(f"step {step} never reached followers {missing}") from None
            if gap:
                await asyncio.sleep(gap)  # the teacher's pace (a measuring scenario)
        await http.delete(path, headers=headers)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    return {"sent": sent, "seen": seen}
