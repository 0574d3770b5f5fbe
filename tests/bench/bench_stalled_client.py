"""A stalled stream client: what it costs the run and another client.

A real server (uvicorn on a free loopback port) trains the XOR example (batch 8, thousands of
steps a second); client A watches it at 10 snapshots/s and records every frame. In each round,
a window with A alone (the reference) is followed by a window in which a second client has
connected, asked for the whole history (`hello {since: 0}`) and stopped reading, so its socket is
full and the server's sends to it wait for the send timeout (5 s, longer than the window); then
the bench waits until the server drops it. A last window with A alone closes the run.

Prints, per window kind, the run's steps/s (from the metric points' timestamps), the delay from
a step to A receiving its metrics (median, p95) and A's snapshots per second, and for each
stalled window the ratio to the mean of the reference windows just before and after it (the
machine is shared and its speed drifts); medians over the rounds, with the targets (steps/s ratio
≥ 0.9, A's median delay < 250 ms, A's snapshots ≥ 5/s) and whether they were met; and how long
after its socket filled the stalled client was dropped.

Run with `python tests/bench/bench_stalled_client.py` (or `make bench`); not collected by
pytest, and never fails on speed. (tests/api/test_stream.py checks the behaviour: A misses no
batch, keeps getting snapshots, and the stalled client is dropped.)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from api.stalled import read_until_closed, send_text, stalled_socket  # noqa: E402
from blockprop.examples import get_example  # noqa: E402
from conftest import start_server  # noqa: E402  (tests/conftest.py)

GRAPH = get_example("xor")["graph"]
DATASET = {"name": "xor", "n": 64, "noise": 0.1}
TRAIN = {"epochs": 1_000_000, "batch_size": 8, "lr": 0.01}
SEND_TIMEOUT = 5.0
WINDOW = 3.0  # seconds per window; shorter than the send timeout
ROUNDS = 5  # the shared machine drifts: medians of five settle
RATE = 10  # snapshots per second A (and the stalled client) ask for
TARGETS = {"ratio": 0.9, "delay_ms": 250, "snapshots_per_s": 5}
ENV = {
    "BLOCKPROP_MAX_RUNS": "1",
    "BLOCKPROP_WS_SEND_TIMEOUT": str(SEND_TIMEOUT),
    # A and the stalled client: a third client is refused while both are in, which tells the
    # bench when the server has dropped the stalled one
    "BLOCKPROP_MAX_WS_CLIENTS": "2",
}


class Watcher:
    """Client A: every frame with the wall time it arrived."""

    def __init__(self) -> None:
        self.metrics: list[tuple[float, int, list[tuple[float, int]]]] = []  # (at, seq, points)
        self.snapshots: list[float] = []

    async def read(self, ws: Any) -> None:
        async for message in ws:
            now = time.time()
            if message.startswith('{"type":"metrics"'):
                frame = orjson.loads(message)
                points = [(p["t"], p["step"]) for p in frame["points"]]
                self.metrics.append((now, frame["seq"], points))
            elif '"type":"snapshot"' in message:
                self.snapshots.append(now)

    def figures(self, start: float, end: float) -> dict[str, float]:
        points = [p for _, _, pts in self.metrics for p in pts if start <= p[0] <= end]
        (t_a, s_a), (t_b, s_b) = points[0], points[-1]
        delays = sorted(at - pts[-1][0] for at, _, pts in self.metrics if start <= at <= end)
        return {
            "steps_per_s": (s_b - s_a) / (t_b - t_a),
            "delay_ms_p50": 1000 * statistics.median(delays),
            "delay_ms_p95": 1000 * delays[int(0.95 * (len(delays) - 1))],
            "snapshots_per_s": sum(start <= t <= end for t in self.snapshots) / (end - start),
        }


async def still_connected(ws_url: str) -> bool:
    try:
        async with websockets.connect(ws_url + "?rate=0"):
            return False
    except websockets.InvalidStatus as e:
        if e.response.status_code != 429:
            raise
        return True


async def window(kind: str, windows: list[tuple[str, float, float]]) -> None:
    start = time.time()
    await asyncio.sleep(WINDOW)  # a measuring window
    windows.append((kind, start, time.time()))


async def measure(url: str, port: int) -> tuple[Watcher, list, list[float], list]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        r = await http.post("/api/runs", json={"graph": GRAPH, "dataset": DATASET, "train": TRAIN})
        r.raise_for_status()
        run = r.json()
        path = f"/api/runs/{run['id']}/stream"
        ws_url = url.replace("http://", "ws://") + path
        a = Watcher()
        windows: list[tuple[str, float, float]] = []
        drops: list[float] = []
        closes: list[Any] = []
        try:
            async with websockets.connect(f"{ws_url}?rate={RATE}", max_size=None) as ws:
                reader = asyncio.create_task(a.read(ws))
                while len(a.metrics) < 3:  # the run is under way
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # warm-up, not measured
                for _ in range(ROUNDS):
                    await window("alone", windows)
                    stalled = await asyncio.to_thread(stalled_socket, port, f"{path}?rate={RATE}")
                    try:
                        send_text(stalled, '{"type": "hello", "since": 0}')
                        flooded = time.monotonic()
                        await window("stalled", windows)
                        deadline = time.monotonic() + 60
                        while await still_connected(ws_url) and time.monotonic() < deadline:
                            await asyncio.sleep(0.05)
                        drops.append(time.monotonic() - flooded)
                        closes.append(await asyncio.to_thread(read_until_closed, stalled, 30))
                    finally:
                        stalled.close()
                await window("alone", windows)
                reader.cancel()
        finally:
            await http.post(
                f"/api/runs/{run['id']}/stop", headers={"X-Edit-Token": run["edit_token"]}
            )
    return a, windows, drops, closes


def main() -> None:
    print(
        f"== stalled client: XOR, batch {TRAIN['batch_size']}; client A at {RATE} snapshots/s; "
        f"{ROUNDS} rounds of [A alone, A + a stalled client] + A alone, {WINDOW:g} s windows"
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), env=ENV)
        try:
            a, windows, drops, closes = asyncio.run(measure(server.url, server.port))
        finally:
            server.stop()
    seqs = [seq for _, seq, _ in a.metrics]
    gap_free = seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    figs = [(kind, a.figures(start, end)) for kind, start, end in windows]
    alone = [f for kind, f in figs if kind == "alone"]
    stalled = [f for kind, f in figs if kind == "stalled"]
    ratios = [
        2 * s["steps_per_s"] / (alone[i]["steps_per_s"] + alone[i + 1]["steps_per_s"])
        for i, s in enumerate(stalled)
    ]
    for name, group in (("A alone (reference)", alone), ("A + stalled client", stalled)):
        print(
            f"   {name:20s}: {_med(group, 'steps_per_s'):8,.0f} steps/s; A's metrics delay "
            f"median {_med(group, 'delay_ms_p50'):4.0f} ms, p95 {_med(group, 'delay_ms_p95'):4.0f}"
            f" ms; A's snapshots {_med(group, 'snapshots_per_s'):4.1f}/s"
        )
    ratio = statistics.median(ratios)
    delay = _med(stalled, "delay_ms_p50")
    snaps = _med(stalled, "snapshots_per_s")
    delay_ref = _med(alone, "delay_ms_p50")
    snaps_ref = _med(alone, "snapshots_per_s")
    print(
        f"   steps/s with a stalled client / without: ratio {ratio:.2f} (target ≥ "
        f"{TARGETS['ratio']}: {_met(ratio >= TARGETS['ratio'])}); per round "
        + ", ".join(f"{r:.2f}" for r in ratios)
    )
    print(
        f"   A's median delay stalled / alone: {delay:.0f} / {delay_ref:.0f} ms, ratio "
        f"{_ratio(delay, delay_ref)} (target < {TARGETS['delay_ms']} ms: "
        f"{_met(delay < TARGETS['delay_ms'])})"
    )
    print(
        f"   A's snapshots/s stalled / alone: {snaps:.1f} / {snaps_ref:.1f}, ratio "
        f"{_ratio(snaps, snaps_ref)} (target ≥ {TARGETS['snapshots_per_s']}/s: "
        f"{_met(snaps >= TARGETS['snapshots_per_s'])})"
    )
    how = sorted({str(c) for c in closes})
    print(
        f"   the stalled client was dropped {', '.join(f'{d:.1f}' for d in drops)} s after it "
        f"stopped reading (send timeout {SEND_TIMEOUT:g} s); closed with {how}; "
        f"A missed no metrics batch: {gap_free}"
    )


def _med(group: list[dict[str, float]], key: str) -> float:
    return statistics.median(f[key] for f in group)


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "—"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
