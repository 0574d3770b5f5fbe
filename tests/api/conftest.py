"""Fixtures for the API tests: an httpx client on a real server, run helpers, private servers."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from blockprop.examples import get_example

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import LiveServer, start_server  # noqa: E402  (tests/conftest.py)

# the bare graph (an example's document also carries its dataset and settings)
XOR_GRAPH: dict[str, Any] = {
    k: v for k, v in get_example("xor")["graph"].items() if k not in ("dataset", "train")
}
XOR_DATA: dict[str, Any] = {"name": "xor", "n": 64, "noise": 0.1}
# Full-batch steps of a 2-4-1 network on 51 samples: thousands of steps per second.
LONG_TRAIN: dict[str, Any] = {"epochs": 1_000_000, "optimizer": "adam", "lr": 0.01}


def graph(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(XOR_GRAPH)
    doc.update(changes)
    return doc


class Api:
    """An httpx client on one server, remembering the runs it starts (stopped at teardown)."""

    def __init__(self, url: str, token: str | None = None):
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, timeout=30, headers=headers)
        self.runs: list[tuple[str, str]] = []

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.put(path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.patch(path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.delete(path, **kw)

    def start_run(
        self,
        train: dict[str, Any] | None = None,
        doc: dict[str, Any] | None = None,
        dataset: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "graph": doc or XOR_GRAPH,
            "dataset": dataset or XOR_DATA,
            "train": LONG_TRAIN if train is None else train,
            **extra,
        }
        r = self.post("/api/runs", json=body)
        assert r.status_code == 201, r.text
        run = r.json()
        self.runs.append((run["id"], run["edit_token"]))
        return run

    def control(self, run: dict[str, Any], action: str, **kw: Any) -> httpx.Response:
        return self.post(
            f"/api/runs/{run['id']}/{action}", headers={"X-Edit-Token": run["edit_token"]}, **kw
        )

    def wait_status(
        self, run: dict[str, Any], statuses: set[str], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(f"/api/runs/{run['id']}").json()
            if current["status"] in statuses or time.monotonic() > deadline:
                return current
            time.sleep(0.05)

    def wait_steps(self, run: dict[str, Any], steps: int, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(f"/api/runs/{run['id']}").json()
            if current["step"] >= steps or time.monotonic() > deadline:
                return current
            time.sleep(0.05)

    def stop_all(self) -> None:
        for run_id, token in self.runs:
            with contextlib.suppress(httpx.HTTPError):
                self.post(f"/api/runs/{run_id}/stop", headers={"X-Edit-Token": token})
        self.runs.clear()

    def ws_url(self, path: str) -> str:
        return self.url.replace("http://", "ws://", 1) + path

    def close(self) -> None:
        self.stop_all()
        self.http.close()


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has `status` and the one error shape (with `code`, when given)."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "nodes", "port"}, err
    assert isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["code"] == code, err
    return err


async def recv_json(ws: Any, timeout: float = 10) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: Any, pred: Any, timeout: float = 20) -> list[dict[str, Any]]:
    """Frames until one satisfies `pred` (included)."""
    frames = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv_json(ws, max(0.1, deadline - time.monotonic()))
        frames.append(frame)
        if pred(frame):
            return frames


def connect(api: Api, run: dict[str, Any], query: str = "", **kw: Any) -> Any:
    return websockets.connect(api.ws_url(f"/api/runs/{run['id']}/stream{query}"), **kw)


# ------------------------------------------------------------------------------ fixtures

RUN_ENV = {
    "BLOCKPROP_MAX_RUNS": "3",
    "BLOCKPROP_CHECKPOINT_SECONDS": "0.5",
    "BLOCKPROP_WS_SEND_TIMEOUT": "1.5",
}


@pytest.fixture(scope="session")
def runs_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A server for run tests: 3 runs at once, checkpoints every 0.5 s, 1.5 s send timeout."""
    server = start_server(tmp_path_factory.mktemp("runs-server"), env=RUN_ENV)
    yield server
    server.stop()


@pytest.fixture
def api(live_server) -> Iterator[Api]:
    client = Api(live_server.url)
    yield client
    client.close()


@pytest.fixture
def runs_api(runs_server) -> Iterator[Api]:
    client = Api(runs_server.url)
    yield client
    client.close()


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[Any]:
    """Start servers with their own settings: `private_server(env={...}, database=...)`."""
    started: list[LiveServer] = []

    def make(env: dict[str, str] | None = None, **kw: Any) -> LiveServer:
        folder = tmp_path / f"s{len(started)}"
        folder.mkdir(exist_ok=True)
        server = start_server(folder, env=env, **kw)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
