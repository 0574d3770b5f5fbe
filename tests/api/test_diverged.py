"""A run that diverges is held by its worker with the parameters of its last finite step (status
`diverged`, `live` true, `finished_at` null): lower the learning rate and resume or step it, or
stop it (final `diverged`). It takes a slot like a paused run, and a restart makes it
`interrupted`, resumable from the checkpoint taken when it diverged."""

import asyncio
import math
import signal
import time

import pytest

from blockprop.examples import get_example

from .conftest import RUN_ENV, Api, assert_error, connect, recv_json, recv_until

REGRESSION = get_example("linear_regression")["graph"]
DATA = {"name": "linear", "n": 50}
# the first update overflows: step 2 diverges at the cost, step 1's parameters are kept
HUGE_LR = {"epochs": 30, "optimizer": "sgd", "lr": 1e30}


def start_diverging(api: Api, **extra) -> dict:
    run = api.start_run(train=HUGE_LR, doc=REGRESSION, dataset=DATA, **extra)
    held = api.wait_status(run, {"diverged", "done", "failed"})
    assert held["status"] == "diverged", held
    return {**run, **held}


def assert_held(run: dict) -> None:
    assert run["status"] == "diverged" and run["live"] is True, run
    assert run["finished_at"] is None
    assert run["diverged_node"] == "cost" and "'cost'" in run["reason"]
    assert run["step"] == 1 and "at step 2" in run["reason"]


def test_a_diverged_run_is_held_then_resumed_with_a_smaller_lr(runs_api):
    run = start_diverging(runs_api)
    assert_held(run)
    assert run["checkpoint_step"] == 1  # taken when it diverged, with the kept parameters
    headers = {"X-Edit-Token": run["edit_token"]}

    async def go():
        query = f"?edit_token={run['edit_token']}&rate=0&since=0"
        async with connect(runs_api, run, query) as ws:
            hello = await recv_json(ws)
            assert hello["status"] == "diverged" and hello["run"]["live"] is True
            frames = await recv_until(ws, lambda f: f["type"] == "status")
            status = frames[-1]
            assert (status["status"], status["live"], status["diverged_node"]) == (
                "diverged",
                True,
                "cost",
            )
            assert status["reason"] == run["reason"]

            r = runs_api.control(run, "pause")  # already held: unchanged
            assert r.status_code == 200 and r.json()["status"] == "diverged"
            assert r.json()["live"] is True
            r = runs_api.patch(f"/api/runs/{run['id']}", json={"lr": 0.05}, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "diverged" and r.json()["config"]["lr"] == 0.05
            r = runs_api.control(run, "resume")
            assert r.status_code == 200, r.text
            assert r.json()["status"] in ("running", "done")
            frames = await recv_until(ws, lambda f: f["type"] == "status" and not f["live"])
            return [f for f in frames if f["type"] == "status"]

    statuses = asyncio.run(go())
    # status frames are latest-wins: a run that ends within milliseconds of resuming may be
    # seen `done` without its `running` frame, never anything else
    assert (statuses[-1]["status"], statuses[-1]["live"]) == ("done", False), statuses
    assert [f["status"] for f in statuses[:-1]] in ([], ["running"]), statuses
    assert all(f["diverged_node"] is None for f in statuses), statuses
    done = runs_api.get(f"/api/runs/{run['id']}").json()
    assert (done["status"], done["live"], done["diverged_node"]) == ("done", False, None)
    assert done["finished_at"] is not None and done["step"] == 30
    points = runs_api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    assert [p["step"] for p in points] == list(range(1, 31))  # the diverged step not counted
    assert points[1]["loss"] == points[0]["loss"]  # step 2 again, from step 1's parameters
    assert [p["lr"] for p in points[1:]] == [0.05] * 29
    assert all(math.isfinite(p["loss"]) for p in points)
    assert points[-1]["train_loss"] < 0.1


def test_a_held_run_takes_a_slot_steps_diverges_again_and_stops_as_diverged(private_server):
    server = private_server(env={**RUN_ENV, "BLOCKPROP_MAX_RUNS": "1"})
    api = Api(server.url)
    try:
        run = start_diverging(api)
        assert_held(run)
        r = api.post("/api/runs", json={"graph": REGRESSION, "dataset": DATA, "train": HUGE_LR})
        assert r.status_code == 201 and r.json()["status"] == "queued", r.text  # it waits
        waiting = r.json()
        api.runs.append((waiting["id"], waiting["edit_token"]))

        # one step, from the kept parameters: paused, the divergence cleared
        r = api.control(run, "step", json={"n": 1})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["live"], r.json()["diverged_node"]) == (
            "paused",
            True,
            None,
        )
        # the lr is still huge: the next step diverges again, and the run is held again
        api.control(run, "step", json={"n": 1})
        again = api.wait_status(run, {"diverged"})
        assert again["live"] is True and again["step"] == 2 and "at step 3" in again["reason"]

        r = api.control(run, "stop")
        assert r.status_code == 200, r.text
        stopped = r.json()
        assert (stopped["status"], stopped["live"], stopped["reason"]) == (
            "diverged",
            False,
            again["reason"],
        )
        assert stopped["diverged_node"] == "cost" and stopped["finished_at"] is not None
        assert api.control(run, "stop").json() == stopped  # idempotent
        assert_error(api.control(run, "resume"), 409, "not_resumable")
        assert_error(api.control(run, "pause"), 409, "not_live")
        # the place is free again: the waiting run starts (and, at that lr, diverges)
        assert api.wait_status(waiting, {"diverged"})["status"] == "diverged"
    finally:
        api.close()


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_a_restart_while_held_interrupts_the_run_and_it_resumes(private_server, how):
    server = private_server(env=RUN_ENV)
    api = Api(server.url)
    run = start_diverging(api)
    assert_held(run)
    headers = {"X-Edit-Token": run["edit_token"]}
    # a smaller lr while held: the stored config keeps it across the restart
    assert api.patch(f"/api/runs/{run['id']}", json={"lr": 0.05}, headers=headers).is_success
    if how == "terminate":
        server.stop()
    else:  # a crash: the row still says diverged, finished_at null
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    api.http.close()

    again = private_server(env=RUN_ENV, port=server.port, database=server.database)
    api = Api(again.url)
    try:
        before = api.get(f"/api/runs/{run['id']}").json()
        assert (before["status"], before["live"], before["finished_at"]) == (
            "interrupted",
            False,
            None,
        )
        assert before["checkpoint_step"] == 1 and before["step"] == 1
        r = api.control(run, "resume")
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("running", "done") and r.json()["diverged_node"] is None
        done = api.wait_status(run, {"done", "diverged", "failed"})
        assert done["status"] == "done", done
        points = api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
        assert [p["step"] for p in points] == list(range(1, 31))
        assert all(math.isfinite(p["loss"]) for p in points)
        assert points[-1]["lr"] == 0.05 and points[-1]["train_loss"] < 0.1
    finally:
        api.close()


def test_the_wall_time_limit_ends_a_held_run(private_server):
    server = private_server(env={"BLOCKPROP_MAX_RUN_SECONDS": "1.5"})
    api = Api(server.url)
    try:
        run = start_diverging(api)
        assert_held(run)
        deadline = time.monotonic() + 10
        while (current := api.get(f"/api/runs/{run['id']}").json())["live"]:
            assert time.monotonic() < deadline, current
            time.sleep(0.05)
        assert (current["status"], current["reason"]) == ("diverged", run["reason"])
        assert current["finished_at"] is not None
    finally:
        api.close()
