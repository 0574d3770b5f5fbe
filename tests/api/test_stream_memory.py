"""Many slow readers catching up on a long run history keep the server's memory bounded.

A run trains fast (about 2 MB of metric history per second), then pauses; its history is
mostly older than the in-memory ring, so catch-up reads from the store. 150 WebSocket
readers ask for everything (`since=0`) and stop reading after their first metrics frame until
all of them are connected — each server-side sender is then blocked mid catch-up — then they
read on to the end. The server's RSS (from /proc) must stay below baseline + 300 MB at peak
and fall back below baseline + 50 MB once the readers have left; every reader must see seq
1, 2, …, last without a gap.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any

import pytest
import websockets

from .conftest import Api

READERS = 150
HISTORY_BYTES = 10_000_000  # metric JSON kept by the run before the readers come
PEAK_LIMIT = 300 * 2**20
AFTER_LIMIT = 50 * 2**20
ENV = {
    # A small ring: most of the history is read back from SQLite, the path that grew.
    "BLOCKPROP_WS_RING_BYTES": "1000000",
    "BLOCKPROP_MAX_WS_CLIENTS": "1000",
    "BLOCKPROP_WS_SEND_TIMEOUT": "30",
}
_SEQ = re.compile(rb'^\{"type":"metrics","seq":(\d+),')

pytestmark = pytest.mark.skipif(
    not __import__("os").path.exists("/proc/self/status"), reason="needs /proc"
)


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def wait_for(check: Any, timeout: float) -> Any:
    """Poll `check` until it is truthy or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def small_socket(port: int) -> socket.socket:
    """A client socket with a small receive buffer, so kernel buffers stay modest and a
    reader that does not read soon pushes back on the server."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


async def reader(url: str, port: int, last: int, on_first: Any, go: asyncio.Event) -> list[int]:
    """Read every metrics frame after seq 0 up to `last`; pause after the first one."""
    seqs: list[int] = []
    sock = small_socket(port)
    async with websockets.connect(url, sock=sock, max_size=None, max_queue=4) as ws:
        while not seqs or seqs[-1] < last:
            raw = await asyncio.wait_for(ws.recv(decode=False), 60)
            m = _SEQ.match(raw)
            if m is None:
                continue  # hello, status
            seqs.append(int(m.group(1)))
            if len(seqs) == 1:
                on_first()
                await go.wait()
    return seqs


async def readers_scenario(api: Api, run_id: str, port: int, pid: int, last: int) -> dict:
    url = api.ws_url(f"/api/runs/{run_id}/stream?since=0&rate=0")
    started = [0]
    all_started, go, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    peak = [rss(pid)]

    def on_first() -> None:
        started[0] += 1
        if started[0] == READERS:
            all_started.set()

    async def sample() -> None:
        # RSS sampled while the readers are connected; its maximum is the peak
        while not stop.is_set():
            peak[0] = max(peak[0], rss(pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    tasks = [asyncio.create_task(reader(url, port, last, on_first, go)) for _ in range(READERS)]
    # every reader has its first frame (or one failed: its error surfaces in gather below)
    waiter = asyncio.create_task(all_started.wait())
    await asyncio.wait([waiter, *tasks], timeout=40, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    stalled_rss = rss(pid)  # every sender is blocked mid catch-up here
    go.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    stop.set()
    await sampler
    return {"seqs": results, "peak": peak[0], "stalled": stalled_rss, "started": started[0]}


def test_slow_readers_of_a_long_history_keep_memory_bounded(private_server):
    server = private_server(env=ENV)
    pid = server.process.pid
    api = Api(server.url)
    try:
        run = api.start_run()
        history = wait_for(lambda: _history_bytes(server.database), 60)
        assert history, "the run did not build a long history within 60 s"
        api.control(run, "pause")
        paused = api.wait_status(run, {"paused"})
        assert paused["status"] == "paused", paused
        last = paused["last_seq"]
        # one reader first, so lazily made things (imports, caches) are in the baseline
        warm = asyncio.run(_one_reader(api, run["id"], server.port, last))
        assert warm == list(range(1, last + 1))
        baseline = rss(pid)

        out = asyncio.run(readers_scenario(api, run["id"], server.port, pid, last))
        peak_added = out["peak"] - baseline
        wait_for(lambda: rss(pid) - baseline < AFTER_LIMIT, 30)
        after = rss(pid)
        print(
            f"\nhistory {history / 1e6:.1f} MB in {last} batches; RSS baseline "
            f"{baseline / 2**20:.0f} MB, stalled +{(out['stalled'] - baseline) / 2**20:.0f} MB, "
            f"peak +{peak_added / 2**20:.0f} MB, after +{(after - baseline) / 2**20:.0f} MB"
        )
        assert out["started"] == READERS
        for seqs in out["seqs"]:
            assert seqs == list(range(1, last + 1))
        assert peak_added < PEAK_LIMIT, f"peak +{peak_added / 2**20:.0f} MB"
        assert after - baseline < AFTER_LIMIT, f"after +{(after - baseline) / 2**20:.0f} MB"
    finally:
        api.close()


def _history_bytes(database: Any) -> int:
    import sqlite3

    with sqlite3.connect(database) as db:
        (total,) = db.execute("SELECT coalesce(sum(length(points)), 0) FROM metrics").fetchone()
    return total if total >= HISTORY_BYTES else 0


async def _one_reader(api: Api, run_id: str, port: int, last: int) -> list[int]:
    go = asyncio.Event()
    go.set()
    url = api.ws_url(f"/api/runs/{run_id}/stream?since=0&rate=0")
    return await reader(url, port, last, lambda: None, go)
