"""Heavy requests on a real server: answers sized and refused before anything is computed
(413 too_large naming the biggest node, the server's memory untouched), a full compute pool
refusing at once (429 busy with Retry-After), the memory budget, and /api/health answering
while the pool computes."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from .conftest import XOR_GRAPH, assert_error


def wide(out_features: int) -> dict[str, Any]:
    """Two inputs into a very wide linear layer: a 300-byte body, a huge answer."""
    return {
        "version": 1,
        "name": "wide",
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {
                "id": "l",
                "op": "linear",
                "params": {"out_features": out_features},
                "inputs": {"x": "x"},
            },
        ],
    }


def memory_kb(pid: int, field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (the peak) of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _nice(pid: str) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def compute_workers(pid: int) -> list[int]:
    """The server's compute workers: spawned (their command line runs spawn_main) at a lower
    priority (the run pool's workers, spawned too, train at the normal one)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        for child in children:
            try:
                spawned = b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
                if spawned and _nice(child) > 0:
                    found.append(int(child))
            except FileNotFoundError:
                pass
    return found


def wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_answers_over_the_limit_are_refused_before_anything_is_computed(private_server):
    server = private_server()
    pid = server.process.pid
    peak_before = memory_kb(pid, "VmHWM")
    bodies = {
        "/api/evaluate": {"graph": wide(8_000_000), "inputs": {"x": [[0.5, -1.0]]}},
        "/api/explain": {"graph": wide(8_000_000), "inputs": {"x": [[0.5, -1.0]]}},
        "/api/export/pytorch": {"graph": wide(8_000_000)},
        "/api/export/onnx": {"graph": wide(8_000_000)},  # 24M float32 numbers: 96 MB
    }
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for path, body in bodies.items():
            assert len(httpx.Request("POST", "/", json=body).content) < 400
            err = assert_error(http.post(path, json=body), 413, "too_large")
            assert err["nodes"] == ["l"], (path, err)
            message = err["message"]
            assert "'l'" in message and "limit of 64.0 MB" in message, message
            assert message.count(" MB") >= 3, message  # the estimate, the limit, node l's part
        assert http.get("/api/health").status_code == 200
    # nothing was allocated for them, and no compute worker was even started
    assert memory_kb(pid, "VmHWM") - peak_before < 50_000
    assert memory_kb(pid, "VmRSS") < 400_000
    assert compute_workers(pid) == []


def _long_gradcheck(url: str) -> httpx.Response:
    """A gradcheck that keeps the only compute worker busy for seconds (12,000 numbers checked
    on 6,000 samples: two forward passes of the batch each)."""
    rng = np.random.default_rng(0)
    inputs = {"x": rng.normal(size=(6000, 2)).round(3).tolist(), "y": [[1.0]] * 6000}
    body = {"graph": XOR_GRAPH, "inputs": inputs, "per_item": 2000}
    with httpx.Client(base_url=url, timeout=300) as http:
        return http.post("/api/gradcheck", json=body)


SMALL = {"graph": XOR_GRAPH, "inputs": {"x": [[0.5, -1.0]], "y": [[1.0]]}}


def test_a_full_pool_answers_busy_and_health_answers_meanwhile(private_server):
    server = private_server(
        env={
            "BLOCKPROP_COMPUTE_WORKERS": "1",
            "BLOCKPROP_COMPUTE_QUEUE": "0",
            "BLOCKPROP_COMPUTE_MEMORY_BYTES": "20000000",
        }
    )
    pid = server.process.pid
    with (
        concurrent.futures.ThreadPoolExecutor(1) as background,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        assert compute_workers(pid) == []  # workers start on the first heavy request
        holder = background.submit(_long_gradcheck, server.url)
        # once the worker exists, the gradcheck holds the pool's only slot
        wait_for(lambda: compute_workers(pid) or holder.done())
        r = http.post("/api/evaluate", json=SMALL)
        assert_error(r, 429, "busy")
        assert int(r.headers["Retry-After"]) >= 1
        health = http.get("/api/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert not holder.done(), "the gradcheck should still be computing"
        # more than the memory budget could ever hold: refused at once, whatever is running
        big = {"graph": wide(1000) | {"nodes": [
            {"id": "x", "op": "input", "params": {"shape": [1000]}},
            {"id": "l", "op": "linear", "params": {"out_features": 1000}, "inputs": {"x": "x"}},
        ]}, "inputs": {"x": [[0.0] * 1000]}}  # fmt: skip
        err = assert_error(http.post("/api/evaluate", json=big), 413, "too_large")
        assert "budget" in err["message"]
        done = holder.result(timeout=300)
        assert done.status_code == 200, done.text
        assert done.json()["ok"] is True
        # the pool is free again: the same small request is computed
        again = http.post("/api/evaluate", json=SMALL)
        assert again.status_code == 200, again.text
        assert np.asarray(again.json()["values"]["hidden"]).shape == (1, 4)
