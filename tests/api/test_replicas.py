"""Two stateless replicas, A and B, on real PostgreSQL, Redis and a Ray cluster (issue 14):
they behave as one server. A graph saved on A reads on B; a run created on A streams gap-free on
B and is controlled from B; A killed with SIGKILL, the run keeps training and B keeps streaming;
a teacher's session changed on B reaches a follower on A within a second; a Ray worker killed,
its runs become `interrupted` and resume from their checkpoints. Skipped, saying why, where
PostgreSQL, Redis or Ray cannot be started (tests/pg.py, tests/redis_server.py,
tests/ray_cluster.py); `.ci/run` installs them, so in CI they run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import websockets

from .conftest import RUN_ENV, XOR_GRAPH, Api, recv_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pg import pg_database, pg_server  # noqa: E402, F401  (fixtures)
from ray_cluster import kill_runs_actor, ray_cluster, worker_pids  # noqa: E402, F401
from redis_server import redis_server, redis_url  # noqa: E402, F401  (fixtures)

PACED = {"epochs": 1_000_000, "speed": 40}


@pytest.fixture
def replicas(private_server, request):
    """Start replicas of one deployment: `replicas()` → a new replica (its LiveServer)."""
    database = request.getfixturevalue("pg_database")
    redis = request.getfixturevalue("redis_url")
    ray_address = request.getfixturevalue("ray_cluster")
    namespace = f"test-{uuid.uuid4().hex[:8]}"  # this test's runs actor and workers
    env = {
        **RUN_ENV,
        "BLOCKPROP_DATABASE": database,
        "BLOCKPROP_REDIS_URL": redis,
        "BLOCKPROP_EXECUTOR": "ray",
        "BLOCKPROP_RAY_ADDRESS": ray_address,
        "BLOCKPROP_RAY_NAMESPACE": namespace,
        "BLOCKPROP_MAX_RUNS": "0",
    }
    yield lambda: private_server(env=env)
    _tear_down_deployment(ray_address, namespace)


def _tear_down_deployment(address: str, namespace: str) -> None:
    """Kill the test's runs actor (its worker actors go with it)."""
    kill_runs_actor(address, namespace)
    # its worker actors' processes end with it: the next test counts only its own
    _wait(lambda: not _ray_worker_pids(address), "worker actors outlived their runs actor", 30)


def _steps(api: Api, run: dict) -> list[int]:
    return [p["step"] for p in api.get(f"/api/runs/{run['id']}/metrics").json()["points"]]


def _wait(pred: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


async def _metrics_seqs(ws: Any, count: int, timeout: float = 30) -> list[int]:
    """The seqs of the next `count` metrics frames (other frames skipped)."""
    seqs: list[int] = []
    deadline = time.monotonic() + timeout
    while len(seqs) < count:
        frame = await recv_json(ws, max(0.1, deadline - time.monotonic()))
        if frame["type"] == "metrics":
            seqs.append(frame["seq"])
    return seqs


def test_two_replicas_are_one_server_and_a_run_outlives_its_replica(replicas):
    a, b = replicas(), replicas()
    api_a, api_b = Api(a.url), Api(b.url)
    try:
        # a graph saved on A reads on B
        saved = api_a.post("/api/graphs", json={"graph": {**XOR_GRAPH, "name": "on A"}})
        assert saved.status_code == 201, saved.text
        read = api_b.get(f"/api/graphs/{saved.json()['id']}")
        assert read.status_code == 200 and read.json()["graph"]["name"] == "on A"

        run = api_a.start_run(train=PACED)  # created on A
        api_b.runs.append((run["id"], run["edit_token"]))
        stream = api_b.ws_url(f"/api/runs/{run['id']}/stream?since=0&rate=5")

        async def watch_on_b() -> None:
            async with websockets.connect(stream) as ws:
                hello = await recv_json(ws)
                assert hello["type"] == "hello" and hello["status"] == "running", hello
                seqs = await _metrics_seqs(ws, 10)
                assert seqs == list(range(1, 11)), seqs  # from the start, no gap
                # A dies: the run trains on, and B streams on without a gap
                os.kill(a.process.pid, signal.SIGKILL)
                a.process.wait()
                more = await _metrics_seqs(ws, 10)
                assert more == list(range(11, 21)), more
                # controlled from B
                await ws.send(json.dumps({"type": "auth", "edit_token": run["edit_token"]}))
                await ws.send(json.dumps({"type": "pause"}))
                while (frame := await recv_json(ws))["type"] != "status" or frame[
                    "status"
                ] != "paused":
                    pass
                assert frame["live"] is True

        asyncio.run(watch_on_b())
        paused = api_b.get(f"/api/runs/{run['id']}").json()
        assert paused["status"] == "paused" and paused["step"] >= 20, paused
        state = api_b.get(f"/api/runs/{run['id']}/state").json()  # live, from its worker actor
        assert state["step"] == paused["step"] and "hidden" in state["state"], state.keys()
        assert api_b.control(run, "resume").json()["status"] == "running"
        api_b.wait_steps(run, paused["step"] + 20)
        stopped = api_b.control(run, "stop").json()
        assert stopped["status"] == "stopped", stopped
        steps = _steps(api_b, run)
        assert steps == list(range(1, len(steps) + 1)), "a gap or a repeat in the stored curve"
        assert api_b.get("/api/load").json()["workers"] == 2
    finally:
        api_a.http.close()
        api_b.close()


def test_a_session_changed_on_b_reaches_a_follower_on_a_within_a_second(replicas):
    a, b = replicas(), replicas()
    api_a, api_b = Api(a.url), Api(b.url)
    try:
        s = api_a.post("/api/sessions", json={"graph": XOR_GRAPH}).json()
        headers = {"X-Edit-Token": s["edit_token"]}

        async def follow_on_a() -> float:
            async with websockets.connect(api_a.ws_url(f"/api/sessions/{s['id']}/stream")) as ws:
                assert (await recv_json(ws))["type"] == "hello"
                sent = time.monotonic()
                r = await asyncio.to_thread(
                    api_b.patch,
                    f"/api/sessions/{s['id']}",
                    json={"view": {"explain": {"step": 3}}},
                    headers=headers,
                )
                assert r.status_code == 200, r.text
                while (frame := await recv_json(ws, 5))["type"] != "state":
                    pass
                assert frame["view"]["explain"]["step"] == 3, frame
                return time.monotonic() - sent

        assert asyncio.run(follow_on_a()) < 1.0
    finally:
        api_a.close()
        api_b.close()


def _ray_worker_pids(address: str) -> list[int]:
    """The processes of the pool's worker actors in this test session's cluster."""
    return worker_pids(address, b"ray::RayWorker")


def test_a_killed_ray_worker_interrupts_its_runs_which_resume(replicas, request):
    """Workers are killed one at a time, each once the pool has replaced the one before: the
    worker that hosts the run (whichever it is) interrupts it, and it resumes on another."""
    import redis

    server = replicas()
    api = Api(server.url)
    r = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    address = request.getfixturevalue("ray_cluster")
    try:
        run = api.start_run(train={"epochs": 1_000_000, "speed": 100})
        _wait(lambda: api.get(f"/api/runs/{run['id']}").json()["checkpoint_step"], "no checkpoint")
        pubsub = r.pubsub()
        pubsub.subscribe(f"blockprop:run:{run['id']}")
        statuses: list[str] = []

        def read_statuses() -> None:  # the run channel's status frames, in order
            while (m := pubsub.get_message(timeout=0.05)) is not None:
                if m["type"] == "message" and m["data"][:1] == b"s":
                    statuses.append(json.loads(m["data"].split(b" ", 1)[1])["status"])

        killed: list[int] = []
        for _ in range(2):  # the deployment's two worker actors: the run is on one of them
            workers = _wait(
                lambda: (
                    len(p := _ray_worker_pids(address)) == 2 and set(p).isdisjoint(killed) and p
                ),
                "the pool did not have its two workers",
            )
            killed.append(workers[0])
            os.kill(workers[0], signal.SIGKILL)
            # replaced: the pool has seen the death (and recorded what it did to its runs)
            _wait(
                lambda: len(p := _ray_worker_pids(address)) == 2 and killed[-1] not in p,
                "the killed worker was not replaced",
            )
            read_statuses()
            if "interrupted" in statuses:
                break

        def resumed() -> bool:
            read_statuses()
            return "interrupted" in statuses and statuses[-1] == "running"

        try:
            _wait(resumed, "the run did not become interrupted then running", 60)
        except AssertionError:
            row = api.get(f"/api/runs/{run['id']}").json()
            raise AssertionError(
                f"status frames {statuses}; run {(row['status'], row['reason'], row['step'])}; "
                f"killed {killed}; workers now {_ray_worker_pids(address)}"
            ) from None
        before = api.get(f"/api/runs/{run['id']}").json()["step"]  # it trains on, no gap
        api.wait_steps(run, before + 20)
        api.control(run, "stop")
        steps = _steps(api, run)
        assert steps == list(range(1, len(steps) + 1)), "a gap or a repeat after resuming"
    finally:
        r.close()
        api.close()
