"""Idle runs yield their slot: when a run needs a slot and none is free, the live run paused (or
held after diverging) longest, with nobody watching its stream or controlling it for
`BLOCKPROP_IDLE_YIELD_SECONDS`, is parked: checkpointed where it waits and made `interrupted`,
and resuming it continues exactly. A watched or recently paused run is not parked: the new run
waits in the queue (and starts once the paused one has been idle and unwatched long enough)."""

import asyncio
import math
import time

from .conftest import XOR_DATA, XOR_GRAPH, Api, connect, recv_json
from .test_diverged import DATA, REGRESSION, assert_held, start_diverging

IDLE = 0.5
PARK_ENV = {"BLOCKPROP_MAX_RUNS": "1", "BLOCKPROP_IDLE_YIELD_SECONDS": str(IDLE)}
# mini-batches, shuffled: resuming exactly needs the shuffle order and generator states too
TRAIN = {"epochs": 30, "optimizer": "adam", "lr": 0.05, "batch_size": 16}  # 4 steps an epoch
SMALL = {"epochs": 5, "optimizer": "sgd", "lr": 0.01}


def parked_after(api: Api, run: dict, since: float, timeout: float = 20) -> None:
    """Wait until `run` has been parked, which happens once it has waited IDLE seconds by the
    server's clock (a test on a loaded machine cannot know that to the millisecond). `since`:
    a monotonic time before the waiting began; it must not be parked before IDLE after it."""
    deadline = time.monotonic() + timeout
    while api.get(f"/api/runs/{run['id']}").json()["status"] != "interrupted":
        assert time.monotonic() < deadline, "no run yielded its place"
        time.sleep(0.05)
    assert time.monotonic() - since >= IDLE, "a run yielded its place before it was idle"


def admitted(api: Api, r) -> dict:
    """A new run is not refused: it starts at once or waits in the queue for a place."""
    assert r.status_code == 201, r.text
    run = r.json()
    api.runs.append((run["id"], run["edit_token"]))
    return run


def paused_at(api: Api, steps: int) -> dict:
    """A run created paused and stepped `steps` times: paused, nobody watching it."""
    run = api.start_run(train=TRAIN, paused=True)
    assert api.control(run, "step", json={"n": steps}).status_code == 200
    current = api.wait_steps(run, steps)
    assert (current["status"], current["step"]) == ("paused", steps), current
    return run


def assert_parked(api: Api, run: dict, step: int, how: str = "paused") -> dict:
    row = api.get(f"/api/runs/{run['id']}").json()
    assert (row["status"], row["live"], row["finished_at"]) == ("interrupted", False, None), row
    assert row["reason"] == (
        f"parked at step {step} to free a training slot ({how} with nobody watching); "
        "resume continues from here"
    )
    assert row["step"] == row["checkpoint_step"] == step
    return row


def points_of(api: Api, run: dict) -> list[dict]:
    points = api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    return [{k: v for k, v in p.items() if k != "t"} for p in points]


def assert_waits(api: Api, r) -> dict:
    """The new run is not refused: it waits in the queue for a place."""
    assert r.status_code == 201, r.text
    run = r.json()
    api.runs.append((run["id"], run["edit_token"]))
    assert (run["status"], run["queue"]["position"]) == ("queued", 1), run
    return run


def test_an_idle_paused_run_is_parked_for_a_new_run_and_resumes_exactly(private_server):
    api = Api(private_server(env=PARK_ENV).url)
    try:
        since = time.monotonic()  # A waits from a moment after this
        a = paused_at(api, 37)
        body = {"graph": XOR_GRAPH, "dataset": XOR_DATA, "paused": True}
        body["train"] = {**TRAIN, "epochs": 1_000_000}
        b_since = time.monotonic()  # B waits from a moment after this
        b = admitted(api, api.post("/api/runs", json=body))  # at once or from the queue
        parked_after(api, a, since)
        assert_parked(api, a, 37)
        assert api.wait_status(b, {"paused"})["status"] == "paused"  # B took A's place

        # resuming A needs a place too: B, paused and unwatched, is parked in turn
        r = api.control(a, "resume")
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("queued", "running", "done")
        parked_after(api, b, b_since)
        assert_parked(api, b, 0)
        done = api.wait_status(a, {"done", "failed", "stopped"})
        assert (done["status"], done["step"]) == ("done", 120), done

        # the same run uninterrupted: the same points, bit for bit
        c = api.start_run(train=TRAIN)
        assert api.wait_status(c, {"done", "failed"})["status"] == "done"
        resumed, straight = points_of(api, a), points_of(api, c)
        assert [p["step"] for p in resumed] == list(range(1, 121))
        assert resumed == straight
    finally:
        api.close()


def test_a_watched_paused_run_is_not_parked_until_its_watcher_leaves(private_server):
    api = Api(private_server(env=PARK_ENV).url)
    body = {"graph": XOR_GRAPH, "dataset": XOR_DATA, "train": SMALL}
    try:
        a = paused_at(api, 3)

        async def watched() -> dict:
            async with connect(api, a, "?rate=0") as ws:
                assert (await recv_json(ws))["type"] == "hello"
                await asyncio.sleep(IDLE + 0.3)  # idle long enough, but watched
                b = assert_waits(api, api.post("/api/runs", json=body))
                row = api.get(f"/api/runs/{a['id']}").json()
                assert (row["status"], row["live"]) == ("paused", True)
                return b

        b = asyncio.run(watched())
        # nobody has watched since: after the idle time it yields, and the waiting run starts
        assert api.wait_status(b, {"done", "failed"})["status"] == "done"
        assert_parked(api, a, 3)
    finally:
        api.close()


def test_a_run_paused_lately_is_not_parked(private_server):
    api = Api(private_server(env={**PARK_ENV, "BLOCKPROP_IDLE_YIELD_SECONDS": "60"}).url)
    try:
        a = paused_at(api, 3)
        assert_waits(api, api.post("/api/runs", json={"graph": XOR_GRAPH, "dataset": XOR_DATA}))
        row = api.get(f"/api/runs/{a['id']}").json()
        assert (row["status"], row["live"]) == ("paused", True)
    finally:
        api.close()


def test_a_held_run_is_parked_and_resumes_from_its_last_finite_parameters(private_server):
    api = Api(private_server(env=PARK_ENV).url)
    try:
        a = start_diverging(api)
        assert_held(a)
        headers = {"X-Edit-Token": a["edit_token"]}
        since = time.monotonic()  # the PATCH touches A: it waits from a moment after this
        assert api.patch(f"/api/runs/{a['id']}", json={"lr": 0.05}, headers=headers).is_success
        body = {"graph": REGRESSION, "dataset": DATA, "train": SMALL, "paused": True}
        b = admitted(api, api.post("/api/runs", json=body))
        parked_after(api, a, since)
        assert_parked(api, a, 1, "held after diverging")
        assert api.wait_status(b, {"paused"})["status"] == "paused"
        api.control(b, "stop")

        r = api.control(a, "resume")
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("running", "done") and r.json()["diverged_node"] is None
        done = api.wait_status(a, {"done", "diverged", "failed"})
        assert done["status"] == "done", done
        points = points_of(api, a)
        assert [p["step"] for p in points] == list(range(1, 31))
        assert points[1]["loss"] == points[0]["loss"]  # step 2 again, from step 1's parameters
        assert [p["lr"] for p in points[1:]] == [0.05] * 29
        assert all(math.isfinite(p["loss"]) for p in points)
        assert points[-1]["train_loss"] < 0.1
    finally:
        api.close()
