"""After a restart, graphs and finished runs are intact; a run that was live shows
`interrupted` and resumes from its last checkpoint, its metrics continuing without a gap."""

import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import RUN_ENV, XOR_GRAPH, Api


def _children(pid: int) -> list[int]:
    """Worker processes of a server (spawned Python processes whose parent it is)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def _wait_checkpoint(api: Api, run: dict, steps: int) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = api.get(f"/api/runs/{run['id']}").json()
        if (current["checkpoint_step"] or 0) >= steps:
            return current
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint past step {steps}: {current}")


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_restart_with_a_run_in_flight(private_server, how):
    server = private_server(env=RUN_ENV)
    api = Api(server.url)
    graph = api.post("/api/graphs", json={"graph": XOR_GRAPH}).json()
    finished = api.start_run(train={"epochs": 20})
    api.wait_status(finished, {"done"})
    run = api.start_run()
    _wait_checkpoint(api, run, 200)
    workers = _children(server.process.pid)
    assert workers, "the run should train in a worker process"
    if how == "terminate":
        server.stop()
    else:  # a crash: nothing is cleaned up by the server
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    deadline = time.monotonic() + 20  # a timeout for a loaded machine, not a speed
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in workers), "workers outlived their server"
    api.http.close()

    again = private_server(env=RUN_ENV, port=server.port, database=server.database)
    api = Api(again.url)
    try:
        assert api.get(f"/api/graphs/{graph['id']}").json()["graph"]["nodes"]
        old = api.get(f"/api/runs/{finished['id']}").json()
        assert old["status"] == "done" and old["step"] == 20
        before = api.get(f"/api/runs/{run['id']}").json()
        assert before["status"] == "interrupted", before
        assert "resume" in before["reason"]
        assert before["checkpoint_step"] >= 200
        points = api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
        steps = [p["step"] for p in points]
        assert steps == list(range(1, len(steps) + 1))
        assert steps[-1] == before["step"] >= before["checkpoint_step"]

        # state is readable from the checkpoint while interrupted
        state = api.get(f"/api/runs/{run['id']}/state").json()
        assert state["step"] == before["checkpoint_step"]

        # resume needs the token, then continues from the checkpoint
        assert api.post(f"/api/runs/{run['id']}/resume").status_code == 403
        r = api.control(run, "resume")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "running"
        api.wait_steps(run, before["step"] + 300)
        api.control(run, "stop")
        after = api.get(f"/api/runs/{run['id']}/metrics").json()
        steps = [p["step"] for p in after["points"]]
        assert steps == list(range(1, len(steps) + 1)), "a gap or a repeat after resuming"
        assert steps[-1] > before["step"] + 300
        assert after["last_seq"] > before["last_seq"]
    finally:
        api.close()


def test_stop_an_interrupted_run(private_server):
    server = private_server(env=RUN_ENV)
    api = Api(server.url)
    run = api.start_run()
    _wait_checkpoint(api, run, 50)
    server.stop()
    again = private_server(env=RUN_ENV, port=server.port, database=server.database)
    api = Api(again.url)
    try:
        assert api.get(f"/api/runs/{run['id']}").json()["status"] == "interrupted"
        assert api.control(run, "stop").json()["status"] == "stopped"
        assert api.control(run, "resume").status_code == 409
    finally:
        api.close()
