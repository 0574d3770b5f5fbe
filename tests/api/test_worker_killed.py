"""A worker killed from outside (`kill -9`, as the OOM killer does) interrupts its run, which
resumes from its last checkpoint without a gap in its metrics (issue 12)."""

import os
import signal

from .conftest import RUN_ENV, Api
from .test_restart import _children, _wait_checkpoint


def test_a_killed_worker_leaves_its_run_interrupted_and_resumable(private_server):
    server = private_server(env=RUN_ENV)
    api = Api(server.url)
    try:
        run = api.start_run()
        _wait_checkpoint(api, run, 100)
        (worker,) = _children(server.process.pid)
        os.kill(worker, signal.SIGKILL)
        before = api.wait_status(run, {"interrupted", "failed"})
        assert before["status"] == "interrupted", before
        assert before["live"] is False and before["finished_at"] is None
        assert "killed (signal 9" in before["reason"] and "resume" in before["reason"]
        assert before["error"] is None

        r = api.control(run, "resume")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "running"
        api.wait_steps(run, before["step"] + 200)
        api.control(run, "stop")
        steps = [p["step"] for p in api.get(f"/api/runs/{run['id']}/metrics").json()["points"]]
        assert steps == list(range(1, len(steps) + 1)), "a gap or a repeat after resuming"
        assert steps[-1] > before["step"] + 200
    finally:
        api.close()
