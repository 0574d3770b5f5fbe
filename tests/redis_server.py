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

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """The URL of a Redis server started for the test session."""
    try:
        import redis
    except ImportError:
        pytest.skip("the `redis` package is not installed (pip install redis)")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server here (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    log = open(folder / "redis.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.skip(f"redis-server did not start: {(folder / 'redis.log').read_text()}")
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis server's URL, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server) as client:
        client.flushdb()
    return redis_server
