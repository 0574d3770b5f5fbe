"""Shared fixtures: a real uvicorn server on a free loopback port, stopped by the test."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    port: int
    database: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    tmp: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
    database: Path | None = None,
) -> LiveServer:
    """Start `blockprop serve` in a subprocess and wait until /api/health answers. Without a
    `port` the server binds port 0 and the test reads the port it got from its log: a port
    picked beforehand could be taken meanwhile by another server, whose health check would
    then answer for ours. Its log ends up in `tmp/server-<port>.log`."""
    database = database or tmp / "blockprop.sqlite"
    full_env = dict(os.environ, BLOCKPROP_DATABASE=str(database), PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    log_path = tmp / f"server-{port or 'starting'}-{time.monotonic_ns()}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
    cmd = [sys.executable, "-m", "blockprop.cli", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port or 0)],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log_path.read_text()}")
        bound = port or _bound_port(log_path)
        try:
            if bound and httpx.get(f"http://127.0.0.1:{bound}/api/health", timeout=1).is_success:
                log_path.rename(tmp / f"server-{bound}.log")  # the open log keeps writing
                return LiveServer(f"http://127.0.0.1:{bound}", bound, database, proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not answer within 30 s: {log_path.read_text()}")


def _bound_port(log_path: Path) -> int | None:
    """The port uvicorn says it is running on, once it has said so."""
    found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log_path.read_text())
    return int(found.group(1)) if found else None


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """One real server for the session (tests that restart servers start their own)."""
    server = start_server(tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last: Playwright's sync API keeps an asyncio loop running in the
    main thread for the whole session, so tests that call asyncio.run() must come before."""
    e2e = [i for i in items if "/e2e/" in str(i.path).replace("\\", "/")]
    items[:] = [i for i in items if i not in e2e] + e2e
