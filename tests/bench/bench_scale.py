"""The distributed path's overhead (issue 14), on this machine, against the embedded default.

1. Throughput: the steps per second of 8 unpaced runs of the XOR example, trained by two Ray
   worker actors (`BLOCKPROP_EXECUTOR=ray`, a local Ray head with 2 CPUs) against two local
   pool workers, each measured over the same window after a warm-up.
2. Stream latency: the delay from a metrics batch's flush in the worker (the points' `t`) to a
   WebSocket client receiving it, for one run paced at 100 steps/s — through Ray and Redis (run
   created on replica A, watched on replica B) against the in-process fan-out of one server.
3. Capacity: 60 runs of the spiral example paced at 20 steps/s (what a student watches; 30 per
   worker core) — the achieved pace of the slowest and the median run, each way: the README's
   "runs per worker core at the example pace".

Prints both figures and their ratios. Both deployments share one SQLite file here (PostgreSQL
changes nothing on these paths). Run with `python tests/bench/bench_scale.py` (or `make bench`);
not collected by pytest, never fails on speed. Needs Ray and redis-server (skips, saying so).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blockprop.examples import get_example  # noqa: E402
from conftest import LiveServer, start_server  # noqa: E402  (tests/conftest.py)
from ray_cluster import kill_runs_actor, start_ray, stop_ray  # noqa: E402
from redis_server import start_redis, stop_redis  # noqa: E402

XOR = get_example("xor")["graph"]
DATA = {"name": "xor", "n": 64, "noise": 0.1}
RUNS = 8
SPIRAL = get_example("spiral")
PACED_RUNS = 60
PACE = 20.0
WARM_UP = 3.0
WINDOW = 8.0
LATENCY_SECONDS = 6.0
COMMON = {
    "BLOCKPROP_WORKERS": "2",
    "BLOCKPROP_MAX_RUNS": "0",
    "BLOCKPROP_MAX_RUNS_PER_CLIENT": "0",
}


def _start(http: httpx.Client, train: dict[str, Any]) -> dict[str, Any]:
    r = http.post("/api/runs", json={"graph": XOR, "dataset": DATA, "train": train})
    assert r.status_code == 201, r.text
    return r.json()


def _stop(http: httpx.Client, run: dict[str, Any]) -> None:
    http.post(f"/api/runs/{run['id']}/stop", headers={"X-Edit-Token": run["edit_token"]})


def steps_per_second(url: str) -> float:
    with httpx.Client(base_url=url, timeout=60) as http:
        runs = [_start(http, {"epochs": 1_000_000, "speed": 0}) for _ in range(RUNS)]

        def total() -> int:
            return sum(http.get(f"/api/runs/{r['id']}").json()["step"] for r in runs)

        time.sleep(WARM_UP)
        s0, t0 = total(), time.monotonic()
        time.sleep(WINDOW)
        s1, t1 = total(), time.monotonic()
        for r in runs:
            _stop(http, r)
    return (s1 - s0) / (t1 - t0)


def paced_runs(url: str) -> tuple[float, float, int]:
    """(median, lowest) achieved steps/s as a ratio to the pace, and how many were admitted."""
    with httpx.Client(base_url=url, timeout=60) as http:
        runs = []
        for _ in range(PACED_RUNS):
            r = http.post(
                "/api/runs",
                json={
                    "graph": SPIRAL["graph"],
                    "dataset": SPIRAL["dataset"],
                    "train": {**SPIRAL["train"], "epochs": 1_000_000, "speed": PACE},
                },
            )
            assert r.status_code == 201, r.text
            runs.append(r.json())
        admitted = [r for r in runs if r["status"] != "queued"]

        def steps() -> list[int]:
            return [http.get(f"/api/runs/{r['id']}").json()["step"] for r in admitted]

        time.sleep(WARM_UP)
        s0, t0 = steps(), time.monotonic()
        time.sleep(WINDOW)
        s1, t1 = steps(), time.monotonic()
        for r in runs:
            _stop(http, r)
    ratios = [(b - a) / (t1 - t0) / PACE for a, b in zip(s0, s1, strict=True)]
    return float(np.median(ratios)), float(min(ratios)), len(admitted)


def stream_delays(create_on: str, watch_on: str) -> np.ndarray:
    with httpx.Client(base_url=create_on, timeout=60) as http:
        run = _start(http, {"epochs": 1_000_000, "speed": 100})
        url = watch_on.replace("http://", "ws://") + f"/api/runs/{run['id']}/stream?rate=0"

        async def watch() -> list[float]:
            delays: list[float] = []
            async with websockets.connect(url, max_size=None) as ws:
                end = time.monotonic() + LATENCY_SECONDS
                while time.monotonic() < end:
                    frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                    now = time.time()
                    if frame["type"] == "metrics" and frame["seq"] > 3:  # past the catch-up
                        delays += [now - p["t"] for p in frame["points"] if "t" in p]
            return delays

        delays = asyncio.run(watch())
        _stop(http, run)
    return np.array(delays)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        redis_proc, redis_url = start_redis(tmp)
    except (RuntimeError, ImportError) as e:
        print(f"skipped: {e}")
        return
    try:
        ray_proc, ray_address = start_ray(str(tmp / "ray"))
    except RuntimeError as e:
        stop_redis(redis_proc)
        print(f"skipped: {e}")
        return
    servers: list[LiveServer] = []
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        (tmp / "local").mkdir()
        local = start_server(tmp / "local", env=COMMON)
        servers.append(local)
        local_rate = steps_per_second(local.url)
        local_delays = stream_delays(local.url, local.url)
        local_paced = paced_runs(local.url)
        local.stop()

        env = {
            **COMMON,
            "BLOCKPROP_EXECUTOR": "ray",
            "BLOCKPROP_RAY_ADDRESS": ray_address,
            "BLOCKPROP_RAY_NAMESPACE": namespace,
            "BLOCKPROP_REDIS_URL": redis_url,
        }
        shared = tmp / "shared.sqlite"
        for name in ("a", "b"):
            (tmp / name).mkdir()
            servers.append(start_server(tmp / name, env=env, database=shared))
        a, b = servers[-2], servers[-1]
        ray_rate = steps_per_second(a.url)
        ray_delays = stream_delays(a.url, b.url)
        ray_paced = paced_runs(a.url)
    finally:
        for s in servers:
            s.stop()
        kill_runs_actor(ray_address, namespace)
        stop_ray(ray_proc, str(tmp / "ray"))
        stop_redis(redis_proc)

    print(f"{RUNS} unpaced XOR runs, steps/s over {WINDOW:.0f} s (2 workers each way):")
    print(f"  local pool   {local_rate:10.0f}")
    print(f"  Ray actors   {ray_rate:10.0f}   ratio Ray/local {ray_rate / local_rate:.2f}")
    print("stream delay, worker flush -> client (ms), one run at 100 steps/s:")
    for name, d in (("in-process", local_delays), ("Ray + Redis, other replica", ray_delays)):
        p50, p99 = np.percentile(d * 1000, [50, 99]) if len(d) else (float("nan"),) * 2
        print(f"  {name:28s} p50 {p50:6.1f}  p99 {p99:6.1f}  ({len(d)} points)")
    if len(local_delays) and len(ray_delays):
        ratio = np.median(ray_delays) / max(1e-6, np.median(local_delays))
        print(f"  ratio of medians Ray+Redis / in-process: {ratio:.2f}")
    print(f"{PACED_RUNS} spiral runs paced at {PACE:.0f} steps/s on 2 worker cores, achieved pace:")
    for name, (median, lowest, admitted) in (("local pool", local_paced), ("Ray", ray_paced)):
        print(f"  {name:12s} median {median:.2f}  slowest {lowest:.2f}  admitted {admitted}")


if __name__ == "__main__":
    main()
