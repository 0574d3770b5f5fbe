"""A pool worker killed from outside (`kill -9`, as the OOM killer does) takes only its own
runs down, and they go on: each becomes `interrupted` and is resumed on another worker from its
last checkpoint, its metrics continuing without a gap; the pool replaces the worker
(issues 12 and 13)."""

import os
import signal
import time

from .conftest import RUN_ENV, Api
from .test_restart import _alive, _children, _wait_checkpoint

# two workers: each of them takes runs
ENV = {
    **RUN_ENV,
    "BLOCKPROP_WORKERS": "2",
    "BLOCKPROP_MAX_RUNS": "0",
    "BLOCKPROP_MAX_RUNS_PER_CLIENT": "0",
}


def _steps(api: Api, run: dict) -> list[int]:
    return [p["step"] for p in api.get(f"/api/runs/{run['id']}/metrics").json()["points"]]


def _wait(pred, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def test_a_killed_worker_takes_only_its_runs_which_resume_elsewhere(private_server):
    server = private_server(env=ENV)
    api = Api(server.url)
    try:
        workers = _children(server.process.pid)
        assert len(workers) == 2, workers
        runs = [api.start_run(train={"epochs": 1_000_000, "speed": 200}) for _ in range(4)]
        for run in runs:
            _wait_checkpoint(api, run, 20)
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: not _alive(victim), "the worker did not die")
        # the pool replaces it
        _wait(lambda: len(_children(server.process.pid)) == 2, "no replacement worker")

        for run in runs:  # every run trains on: those of the dead worker were resumed
            before = api.get(f"/api/runs/{run['id']}").json()["step"]
            now = api.wait_steps(run, before + 50)
            assert now["status"] == "running" and now["live"] is True, now
        for run in runs:
            api.control(run, "stop")
            steps = _steps(api, run)
            assert steps == list(range(1, len(steps) + 1)), "a gap or a repeat after resuming"
        server_log = (server.database.parent / f"server-{server.port}.log").read_text()
        assert "died" in server_log and "resuming it on another" in server_log
    finally:
        api.close()


def test_workers_killed_together_lose_no_run(private_server):
    """Both workers killed at once. A run can then be resumed onto the other worker before its
    death is seen: it is resumed again, not failed. A paused run comes back paused."""
    server = private_server(env=ENV)
    api = Api(server.url)
    try:
        workers = _children(server.process.pid)
        runs = [api.start_run(train={"epochs": 1_000_000, "speed": 200}) for _ in range(4)]
        for run in runs:
            _wait_checkpoint(api, run, 20)
        paused = runs[0]
        assert api.control(paused, "pause").json()["status"] == "paused"
        for w in workers:
            os.kill(w, signal.SIGKILL)
        _wait(lambda: not any(_alive(w) for w in workers), "the workers did not die")
        _wait(
            lambda: len(set(_children(server.process.pid)) - set(workers)) == 2,
            "no replacement workers",
        )
        for run in runs[1:]:
            before = api.get(f"/api/runs/{run['id']}").json()["step"]
            now = api.wait_steps(run, before + 50)
            assert now["status"] == "running" and now["live"] is True, now

        def back_paused():
            row = api.get(f"/api/runs/{paused['id']}").json()
            assert row["status"] != "failed", row
            return row["status"] == "paused" and row["live"] is True

        _wait(back_paused, "the paused run did not come back paused")
        for run in runs:
            api.control(run, "stop")
    finally:
        api.close()
