"""The pool of worker processes that host the runs (worker.py), owned by the run manager.

Started with the server: `Settings.workers` processes (default one per core), so creating a run
spawns nothing. Each has a control pipe (server → worker, guarded by a lock: the event loop and
the manager's threads send on it) and an output pipe read by one thread here, which hands every
frame to the manager (`on_frame`). A worker that dies (killed, out of memory) is reported
(`on_death`, which interrupts its runs) and replaced. A worker whose memory passes
`Settings.worker_max_rss_bytes` is *drained*: it gets no new runs, a fresh worker takes its
place, and it exits once its last run has ended.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson

from blockprop.service.framing import frame, parse
from blockprop.settings import Settings

log = logging.getLogger("blockprop.pool")

#: messages a worker's reader takes at once from what waits on the pipe
MAX_BURST = 256

OnFrame = Callable[["WorkerHandle", bytes, str, bytes], None]
OnDeath = Callable[["WorkerHandle"], None]
OnLoad = Callable[["WorkerHandle"], None]


@dataclass(eq=False)
class WorkerHandle:
    index: int
    process: Any
    ctrl: Connection
    out: Connection
    ctrl_lock: threading.Lock = field(default_factory=threading.Lock)
    #: the runs it hosts (by id), kept by the manager
    runs: set[str] = field(default_factory=set)
    #: from its last load report: run id -> {cost, speed, running}, and its memory
    load: dict[str, dict[str, Any]] = field(default_factory=dict)
    rss: int = 0
    hello: threading.Event = field(default_factory=threading.Event)
    draining: bool = False
    dead: bool = False
    #: it has had a run: only such a worker is drained (a fresh one above the limit would be
    #: replaced by another just like it)
    hosted: bool = False
    thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send(self, data: bytes) -> bool:
        """Send a frame; False if the worker is gone (its reader reports how it ended)."""
        with self.ctrl_lock:
            try:
                self.ctrl.send_bytes(data)
                return True
            except (OSError, EOFError, BrokenPipeError, ValueError):
                return False

    def send_json(self, run_id: str, msg: dict[str, Any]) -> bool:
        return self.send(frame(b"J", run_id, orjson.dumps(msg)))

    def close(self) -> None:
        """Close the control channel: the worker stops its runs and exits."""
        with self.ctrl_lock:
            self.ctrl.close()

    def bursts(self) -> Iterator[list[bytes]]:
        """The worker's messages, a burst (what waited) at a time, until it has gone."""
        while True:
            try:
                burst = [self.out.recv_bytes()]
                while len(burst) < MAX_BURST and self.out.poll(0):
                    burst.append(self.out.recv_bytes())
            except (EOFError, OSError):
                return
            yield burst


class WorkerPool:
    def __init__(
        self,
        settings: Settings,
        on_frame: OnFrame,
        on_death: OnDeath,
        on_load: OnLoad,
        group: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
    ):
        self.settings = settings
        self.size = settings.workers or os.cpu_count() or 1
        self._on_frame = on_frame
        self._on_death = on_death
        self._on_load = on_load
        self._group = group  # a context in which one burst of a worker's messages is recorded
        self._ctx = multiprocessing.get_context("spawn")
        self.workers: list[WorkerHandle] = []
        self._lock = threading.Lock()
        self._next_index = 0
        self.closing = False

    # -- lifecycle (blocking: call from a thread) --

    def start(self) -> None:
        started = [self._spawn() for _ in range(self.size)]
        for w in started:  # each has imported the engine once it says hello
            if not w.hello.wait(self.settings.worker_start_seconds):
                log.warning("pool worker %d did not say hello in time", w.index)

    def close(self, timeout: float = 5.0) -> None:
        """Close every control pipe (a worker then stops its runs and exits) and wait."""
        self.closing = True
        with self._lock:
            workers = list(self.workers)
        for w in workers:
            w.close()
        for w in workers:
            w.process.join(timeout)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout)
            if w.thread is not None:
                w.thread.join(timeout)

    def _spawn(self) -> WorkerHandle:
        with self._lock:
            index = self._next_index
            self._next_index += 1
        w = self._new_worker(index)
        w.thread = threading.Thread(target=self._read, args=(w,), name=f"worker-{index}")
        w.thread.daemon = True
        with self._lock:
            self.workers.append(w)
        w.thread.start()
        return w

    def _new_worker(self, index: int) -> WorkerHandle:
        """Start worker `index`: a local process, spoken to through two pipes."""
        from blockprop.service import pool_worker as worker

        ctrl_recv, ctrl_send = self._ctx.Pipe(duplex=False)
        out_recv, out_send = self._ctx.Pipe(duplex=False)
        s = self.settings
        process = self._ctx.Process(
            target=worker.main,
            args=(index, ctrl_recv, out_send, s.worker_blas_threads, s.metrics_flush_seconds),
            name=f"blockprop-worker-{index}",
            daemon=True,
        )
        process.start()
        ctrl_recv.close()
        out_send.close()
        return WorkerHandle(index, process, ctrl_send, out_recv)

    # -- choosing a worker --

    def available(self) -> list[WorkerHandle]:
        with self._lock:
            return [w for w in self.workers if not w.draining and not w.dead]

    # -- reading a worker --

    def _read(self, w: WorkerHandle) -> None:
        for burst in w.bursts():
            with self._group():  # what waited is recorded together
                for data in burst:
                    self._dispatch(w, data)
        w.process.join(5)
        w.dead = True
        with self._lock:
            if w in self.workers:
                self.workers.remove(w)
        if not self.closing and not w.draining:
            log.warning(
                "pool worker %d (pid %s) died (exit code %s): its runs are interrupted",
                w.index,
                w.pid,
                w.process.exitcode,
            )
        try:
            self._on_death(w)
        except Exception:
            log.exception("pool worker %d: could not record how its runs ended", w.index)
        if not self.closing and not w.draining:
            self._spawn()

    def _dispatch(self, w: WorkerHandle, data: bytes) -> None:
        try:
            kind, run_id, payload = parse(data)
            if run_id:
                self._on_frame(w, kind, run_id, payload)
            else:
                self._worker_message(w, orjson.loads(payload))
        except Exception:
            log.exception("pool worker %d: bad message", w.index)

    def _worker_message(self, w: WorkerHandle, msg: dict[str, Any]) -> None:
        if msg.get("type") == "hello":
            w.hello.set()
        elif msg.get("type") == "load":
            w.load = msg.get("runs") or {}
            w.hosted = w.hosted or bool(w.load)
            w.rss = int(msg.get("rss") or 0)
            self._on_load(w)
            self._maybe_drain(w)

    def _maybe_drain(self, w: WorkerHandle) -> None:
        limit = self.settings.worker_max_rss_bytes
        if limit > 0 and w.rss > limit and w.hosted and not w.draining and not self.closing:
            log.info("pool worker %d uses %d MB: draining it", w.index, w.rss >> 20)
            w.draining = True
            self._spawn()
            self.release(w)

    def release(self, w: WorkerHandle) -> None:
        """A draining worker with no run left is closed (it exits)."""
        if w.draining and not w.runs:
            w.close()
