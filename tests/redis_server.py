"""A real Redis server for the tests: Debian's `redis-server` on a free loopback port, in a
temporary directory, persisting nothing (`--save '' --appendonly no`); stopped at the end.

    from redis_server import redis_url  # noqa: F401  (fixture)

`redis_url` is `redis://127.0.0.1:<port>/0`, flushed before each test. Where the server cannot
be started (no `redis-server`, no `redis` package) the tests that need it skip, saying why;
`.ci/run` installs redis-server so in CI they run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """Start redis-server on a free loopback port, persisting nothing: its process and URL.
    Raises RuntimeError when it cannot."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server here (apt-get install redis-server)")
    port = _free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    with open(folder / "redis.log", "ab") as log:
        proc = subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    with redis.Redis.from_url(url) as client:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return proc, url
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop_redis(proc)
                    raise RuntimeError(
                        f"redis-server did not start: {(folder / 'redis.log').read_text()}"
                    ) from None
                time.sleep(0.05)


def stop_redis(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """The URL of a Redis server started for the test session."""
    try:
        import redis  # noqa: F401
    except ImportError:
        pytest.skip("the `redis` package is not installed (pip install redis)")
    try:
        proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    except RuntimeError as e:
        pytest.skip(str(e))
    try:
        yield url
    finally:
        stop_redis(proc)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis server's URL, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server) as client:
        client.flushdb()
    return redis_server
