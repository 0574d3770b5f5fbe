"""One server holds 60 followers of a classroom session, each seeing the teacher's step in < 1 s.

60 WebSocket clients on loopback follow one session; the teacher (an HTTP client with the
edit token) moves through 30 explain steps, waiting each time until every follower has it.
Bounded: it gives up after 60 s. Run with `-s` to see the figures.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx
import websockets

from blockprop.examples import get_example

FOLLOWERS = 60
STEPS = 30
LIMIT_S = 1.0


async def _scenario(url: str) -> dict[str, float]:
    ws_base = url.replace("http://", "ws://", 1)
    graph = get_example("notes_network")["graph"]  # a realistic graph (9 nodes, 3 layers)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        r = await http.post("/api/sessions", json={"graph": graph})
        assert r.status_code == 201, r.text
        session = r.json()
        headers = {"X-Edit-Token": session["edit_token"]}
        path = f"/api/sessions/{session['id']}"

        seen: list[dict[int, float]] = [{} for _ in range(FOLLOWERS)]
        arrived: dict[int, asyncio.Event] = {k: asyncio.Event() for k in range(1, STEPS + 1)}
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
                        if counts[step] == FOLLOWERS:
                            arrived[step].set()

        readies = [asyncio.Event() for _ in range(FOLLOWERS)]
        all_ready = asyncio.Event()
        tasks = [asyncio.create_task(follower(i, readies[i], all_ready)) for i in range(FOLLOWERS)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 20)
        all_ready.set()
        assert (await http.get(path)).json()["followers"] == FOLLOWERS

        sent: dict[int, float] = {}
        for step in range(1, STEPS + 1):
            sent[step] = time.perf_counter()
            r = await http.patch(
                path, json={"view": {"explain": {"step": step, "node": "l1"}}}, headers=headers
            )
            assert r.status_code == 200, r.text
            await asyncio.wait_for(arrived[step].wait(), 5)
            await asyncio.sleep(0.02)
        await http.delete(path, headers=headers)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    delays = [seen[i][k] - sent[k] for i in range(FOLLOWERS) for k in range(1, STEPS + 1)]
    delays.sort()
    return {
        "followers": FOLLOWERS,
        "steps": STEPS,
        "median_ms": statistics.median(delays) * 1000,
        "p95_ms": delays[int(0.95 * len(delays)) - 1] * 1000,
        "max_ms": delays[-1] * 1000,
    }


def test_sixty_followers_see_each_step_within_a_second(live_server):
    figures = asyncio.run(asyncio.wait_for(_scenario(live_server.url), 60))
    print(
        f"\n{figures['followers']} followers × {figures['steps']} steps: step → follower "
        f"median {figures['median_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
        f"max {figures['max_ms']:.1f} ms"
    )
    assert figures["max_ms"] < LIMIT_S * 1000, figures
