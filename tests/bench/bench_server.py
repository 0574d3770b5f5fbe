"""Server overhead: steps/s of a training run in the server (worker process, metrics to SQLite,
fan-out over WebSockets) with 0, 1 and 20 subscribed clients, as a ratio to the same training
run headless in the engine (`Trainer.run` in this process), all measured in one run; and the
delay from a step to a client receiving its metrics (median and 95th percentile).

Run with `python tests/bench/bench_server.py` (or `make bench`); not collected by pytest.
Targets: ratio ≥ 0.9 with 1 client, ≥ 0.8 with 20, median delay ≤ 100 ms.

Steps/s are taken from the metric points' timestamps (first to last step of a run), so both
sides exclude start-up. Clients subscribe at the default 10 snapshots/s (plus boundary grids:
the spiral is 2-D); one of them parses the metrics frames to time them. Like a
browser they offer permessage-deflate; the server declines it unless BLOCKPROP_WS_DEFLATE is
set (compressing every frame cost more CPU than the training itself here).
"""

from __future__ import annotations

import os

# The same BLAS threading as the server's run workers (BLOCKPROP_WORKER_BLAS_THREADS, default 1),
# set before NumPy loads, so both sides of each ratio run the same numerics.
_THREADS = os.environ.get("BLOCKPROP_WORKER_BLAS_THREADS", "1")
if _THREADS != "0":
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _THREADS

import asyncio  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import orjson  # noqa: E402
import websockets  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blockprop.engine.data import load_dataset  # noqa: E402
from blockprop.engine.trainer import TrainConfig, Trainer  # noqa: E402
from blockprop.examples import get_example  # noqa: E402
from conftest import start_server  # noqa: E402  (tests/conftest.py)

EXAMPLE = get_example("spiral")  # 2-32-32-2 tanh, batch 32, Adam: the typical browser case
DOC: dict[str, Any] = EXAMPLE["graph"]
DATASET: dict[str, Any] = EXAMPLE["dataset"]
TRAIN: dict[str, Any] = {**EXAMPLE["train"], "epochs": 1_000_000}
SECONDS = 2.0  # target length of each measured run
ROUNDS = 5  # the shared machine drifts by ±20 % between runs; medians of five settle


def headless(steps: int) -> float:
    """Steps/s of Trainer.run in this process, first to last step."""
    spec = {k: v for k, v in DATASET.items() if k != "name"}
    ds = load_dataset(DATASET["name"], **spec)
    trainer = Trainer(DOC, ds, TrainConfig.from_dict({**TRAIN, "max_steps": steps}))
    stamps: list[float] = []
    trainer.run(on_points=lambda points: stamps.append(time.time()))
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


async def watch(url: str, delays: list[float] | None, ready: asyncio.Event) -> int:
    """A client: waits for the run to finish; records each point's delay when asked."""
    frames = 0
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()  # hello
        ready.set()
        async for message in ws:
            now = time.time()
            frames += 1
            if message.startswith('{"type":"metrics"'):
                if delays is not None:
                    delays.extend(now - p["t"] for p in orjson.loads(message)["points"])
            elif message.startswith('{"type":"status"') and '"status":"done"' in message:
                return frames
    return frames


async def server_run(url: str, clients: int, steps: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        r = await http.post(
            "/api/runs",
            json={
                "graph": DOC,
                "dataset": DATASET,
                "train": {**TRAIN, "max_steps": steps},
                "paused": True,
            },
        )
        r.raise_for_status()
        run = r.json()
        ws_url = url.replace("http://", "ws://") + f"/api/runs/{run['id']}/stream"
        delays: list[float] = []
        events = [asyncio.Event() for _ in range(clients)]
        # Every client receives every frame; one of them parses the metrics to time them (the
        # bench's clients share the server's two cores, unlike real viewers).
        tasks = [
            asyncio.create_task(watch(ws_url, delays if i == 0 else None, events[i]))
            for i in range(clients)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 30)
        await http.post(
            f"/api/runs/{run['id']}/resume", headers={"X-Edit-Token": run["edit_token"]}
        )
        if tasks:
            frames = await asyncio.wait_for(asyncio.gather(*tasks), 300)
        else:
            frames = []
            while (await http.get(f"/api/runs/{run['id']}")).json()["status"] != "done":
                await asyncio.sleep(0.1)
        points = (await http.get(f"/api/runs/{run['id']}/metrics")).json()["points"]
    assert [p["step"] for p in points] == list(range(1, steps + 1)), "points missing"
    rate = (len(points) - 1) / (points[-1]["t"] - points[0]["t"])
    return {"rate": rate, "delays": delays, "frames": frames}


def main() -> None:
    print(f"== server: {DOC['name']!r} on {DATASET}, batch {TRAIN['batch_size']}, Adam")
    calibration = headless(2000)
    steps = max(2000, int(calibration * SECONDS))
    print(
        f"   {steps} steps per run; {ROUNDS} rounds of [headless, 0, 1, 20 clients], each server "
        "run divided by the mean of the headless runs just before and after it (the machine "
        "is shared and its speed drifts); medians reported"
    )
    ratios: dict[int, list[float]] = {0: [], 1: [], 20: []}
    rates: dict[Any, list[float]] = {"headless": [], 0: [], 1: [], 20: []}
    delays: dict[int, list[float]] = {1: [], 20: []}
    frames: dict[int, list[int]] = {1: [], 20: []}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), env={"BLOCKPROP_MAX_RUNS": "1"})
        try:
            before = headless(steps)
            rates["headless"].append(before)
            for _ in range(ROUNDS):
                for n in (0, 1, 20):
                    res = asyncio.run(server_run(server.url, n, steps))
                    after = headless(steps)
                    rates["headless"].append(after)
                    rates[n].append(res["rate"])
                    ratios[n].append(2 * res["rate"] / (before + after))
                    before = after
                    if n:
                        delays[n].extend(res["delays"])
                        frames[n].extend(res["frames"])
        finally:
            server.stop()
    print(f"   headless Trainer.run: {_fmt(rates['headless'])} steps/s")
    targets = {0: None, 1: 0.9, 20: 0.8}
    for n in (0, 1, 20):
        line = (
            f"   server, {n:2d} client(s): ratio {statistics.median(ratios[n]):.2f}"
            + (f" (target ≥ {targets[n]})" if targets[n] else "")
            + f"; per round {', '.join(f'{r:.2f}' for r in ratios[n])}"
            + f"; {_fmt(rates[n])} steps/s"
        )
        print(line)
        if n:
            d = sorted(delays[n])
            p95 = d[int(0.95 * (len(d) - 1))]
            print(
                f"      step→client delay median {1000 * statistics.median(d):.0f} ms, "
                f"p95 {1000 * p95:.0f} ms (target median ≤ 100 ms); "
                f"{statistics.mean(frames[n]):.0f} frames per client per run"
            )


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


if __name__ == "__main__":
    main()
