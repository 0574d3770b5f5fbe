"""A whole class at once (issue 13): runs share a pool of worker processes, none is refused
while the queue has room, each client has its share, and a worker that grows too big is
replaced without disturbing its runs."""

from __future__ import annotations

import asyncio
import time

import httpx

from .conftest import XOR_DATA, XOR_GRAPH, Api, assert_error, connect, recv_json, recv_until
from .test_restart import _alive, _children

PACED = {"epochs": 100, "optimizer": "adam", "lr": 0.05, "speed": 50}  # ~2 s each


async def _create_many(url: str, n: int, train: dict) -> list[httpx.Response]:
    """`n` students pressing ▶ at once, each from their own browser (X-Client-Id)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        calls = [
            http.post(
                "/api/runs",
                json={"graph": XOR_GRAPH, "dataset": XOR_DATA, "train": train},
                headers={"X-Client-Id": f"student-{i:04d}"},
            )
            for i in range(n)
        ]
        return await asyncio.gather(*calls)


def test_forty_runs_created_at_once_are_all_taken_and_all_finish(private_server):
    server = private_server()  # default settings: a worker per core, no cap on live runs
    api = Api(server.url)
    try:
        responses = asyncio.run(_create_many(server.url, 40, PACED))
        assert [r.status_code for r in responses] == [201] * 40, [r.text for r in responses]
        runs = [r.json() for r in responses]
        api.runs += [(r["id"], r["edit_token"]) for r in runs]
        assert {r["status"] for r in runs} <= {"running", "queued"}
        load = api.get("/api/load").json()
        assert load["workers"] >= 1 and load["live"] + load["queued"] >= 1
        for run in runs:  # every one trains to the end, the queued ones once others finish
            done = api.wait_status(run, {"done", "failed", "stopped"}, timeout=120)
            assert (done["status"], done["step"]) == ("done", 100), done
        workers = _children(server.process.pid)
        assert len(workers) == load["workers"], "runs must not spawn processes"
    finally:
        api.close()


def test_a_client_has_its_share_of_runs(private_server):
    server = private_server(env={"BLOCKPROP_MAX_RUNS_PER_CLIENT": "2"})
    api = Api(server.url)
    try:
        a, b = api.start_run(), api.start_run()
        err = assert_error(
            api.post("/api/runs", json={"graph": XOR_GRAPH, "dataset": XOR_DATA}),
            429,
            "too_many_runs",
        )
        assert "You already have 2 runs" in err["message"]
        r = api.post("/api/runs", json={"graph": XOR_GRAPH, "dataset": XOR_DATA})
        assert r.headers["Retry-After"].isdigit()
        # another student is not held back by this one
        other = api.post(
            "/api/runs",
            json={"graph": XOR_GRAPH, "dataset": XOR_DATA, "train": {"epochs": 5}},
            headers={"X-Client-Id": "someone-else"},
        )
        assert other.status_code == 201, other.text
        api.control(a, "stop")  # a place of this client's frees
        api.runs.append((other.json()["id"], other.json()["edit_token"]))
        c = api.start_run()
        assert c["status"] == "running"
        api.control(b, "stop")
    finally:
        api.close()


def test_a_queued_run_says_where_it_stands_and_starts_when_room_frees(private_server):
    server = private_server(env={"BLOCKPROP_MAX_RUNS": "1", "BLOCKPROP_MAX_RUNS_PER_CLIENT": "0"})
    api = Api(server.url)
    try:
        first = api.start_run()
        second = api.start_run(train={"epochs": 20})
        third = api.start_run(train={"epochs": 20})
        assert [second["queue"]["position"], third["queue"]["position"]] == [1, 2]
        assert "1 ahead of you" in third["reason"]

        async def watch() -> list[dict]:
            async with connect(api, third) as ws:
                hello = await recv_json(ws)
                assert hello["status"] == "queued" and hello["run"]["queue"]["ahead"] == 1
                api.control(second, "stop")  # one ahead leaves the queue: third moves up
                moved = (
                    await recv_until(ws, lambda f: (f.get("queue") or {}).get("position") == 1)
                )[-1]
                assert moved["status"] == "queued" and "nobody is ahead" in moved["reason"]
                api.control(first, "stop")  # the place frees: third starts and finishes
                frames = [await recv_json(ws)]
                while not (frames[-1]["type"] == "status" and frames[-1]["status"] == "done"):
                    frames.append(await recv_json(ws))
                return frames

        frames = asyncio.run(watch())
        statuses = [f["status"] for f in frames if f["type"] == "status"]
        # latest-wins status frames: a short run may be seen done without its running frame
        assert statuses[-1] == "done", statuses
        assert set(statuses) <= {"queued", "starting", "running", "done"}, statuses
        assert api.get(f"/api/runs/{second['id']}").json()["status"] == "stopped"
    finally:
        api.close()


def test_a_worker_past_its_memory_limit_is_drained_and_replaced(private_server):
    env = {"BLOCKPROP_WORKERS": "1", "BLOCKPROP_WORKER_MAX_RSS_BYTES": "1"}
    server = private_server(env=env)
    api = Api(server.url)
    try:
        (first,) = _children(server.process.pid)
        run = api.start_run(train=PACED)
        # its load report shows it over the limit: a fresh worker comes beside it
        deadline = time.monotonic() + 30
        while len(_children(server.process.pid)) < 2:
            assert time.monotonic() < deadline, "no fresh worker"
            time.sleep(0.05)
        done = api.wait_status(run, {"done", "failed", "stopped"})
        assert (done["status"], done["step"]) == ("done", 100), done  # undisturbed
        deadline = time.monotonic() + 30
        while _alive(first):  # its last run over, the drained worker exits
            assert time.monotonic() < deadline, "the drained worker is still there"
            time.sleep(0.05)
        again = api.start_run(train={"epochs": 5})
        assert api.wait_status(again, {"done"})["status"] == "done"
    finally:
        api.close()
