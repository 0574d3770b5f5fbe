"""The pool's workers as Ray actors (`BLOCKPROP_EXECUTOR=ray`): one scheduler, two transports.

Each worker is an actor (`RayWorker`) running the very `Scheduler` of a local worker process
(pool_worker.py) on a thread of its own; only the transport differs. Where a local worker reads
its control pipe and writes its output pipe, the actor's scheduler reads an `Inbox` filled by
the actor method `send` and writes an `Outbox` drained by the method `take`, which the pool's
reader thread long-polls. The frames are the same bytes (framing.py) either way.

The actor is threaded (`take` waits while `send` must get through), and Ray does not order the
calls of a threaded actor, so every control frame carries a number and the inbox hands them to
the scheduler in that order. A worker actor that dies (killed, its node lost) ends its reader's
long poll with an error: the pool reports it exactly as a local worker's death (its runs become
`interrupted`, resumed elsewhere) and starts another.

The actors are created by the run manager, which in this mode is itself an actor (runs_actor.py),
so they share its lifetime, not that of the API replica that first asked for them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from blockprop.service.pool import MAX_BURST, WorkerHandle, WorkerPool

log = logging.getLogger("blockprop.pool")

#: seconds a `take` waits for output before it answers with nothing
TAKE_WAIT = 0.5
#: bytes of output an actor holds for its reader; beyond, the scheduler waits (as on a full pipe)
OUTBOX_BYTES = 64 * 2**20


class Inbox:
    """The scheduler's control channel inside an actor: frames in the order they were sent."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._ready: deque[bytes] = deque()
        self._held: dict[int, bytes] = {}
        self._next = 0
        self._closed = False

    def put(self, number: int, data: bytes) -> None:
        with self._cv:
            self._held[number] = data
            while self._next in self._held:
                self._ready.append(self._held.pop(self._next))
                self._next += 1
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def poll(self, timeout: float = 0.0) -> bool:
        with self._cv:
            if not self._ready and not self._closed and timeout > 0:
                self._cv.wait(timeout)
            if not self._ready and self._closed:
                raise EOFError("the pool closed this worker")
            return bool(self._ready)

    def recv_bytes(self) -> bytes:
        with self._cv:
            while not self._ready:
                if self._closed:
                    raise EOFError("the pool closed this worker")
                self._cv.wait()
            return self._ready.popleft()


class Outbox:
    """The scheduler's output inside an actor, taken in bursts by the pool's reader."""

    def __init__(self, limit: int = OUTBOX_BYTES) -> None:
        self._cv = threading.Condition()
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._limit = limit
        self.ended = False

    def send_bytes(self, data: bytes) -> None:
        with self._cv:
            while self._bytes > self._limit and not self.ended:  # the reader is behind: wait
                self._cv.wait(1.0)
            self._frames.append(data)
            self._bytes += len(data)
            self._cv.notify_all()

    def end(self) -> None:
        with self._cv:
            self.ended = True
            self._cv.notify_all()

    def take(self, timeout: float) -> list[bytes] | None:
        """What waits (up to MAX_BURST frames), after at most `timeout` seconds; None once the
        scheduler has ended and everything was taken."""
        with self._cv:
            if not self._frames and not self.ended:
                self._cv.wait(timeout)
            if not self._frames:
                return None if self.ended else []
            n = min(len(self._frames), MAX_BURST)
            burst = [self._frames.popleft() for _ in range(n)]
            self._bytes -= sum(len(b) for b in burst)
            self._cv.notify_all()
            return burst


class RayWorker:
    """The actor class (made remote by `RayPool`): hosts runs with the local worker's scheduler."""

    def __init__(self, index: int, tick: float):
        from blockprop.service import pool_worker

        self.inbox = Inbox()
        self.outbox = Outbox()

        def serve() -> None:
            try:
                pool_worker.serve(index, self.inbox, self.outbox, tick)
            finally:
                self.outbox.end()

        threading.Thread(target=serve, name=f"blockprop-worker-{index}", daemon=True).start()

    def send(self, number: int, data: bytes) -> None:
        self.inbox.put(number, data)

    def close(self) -> None:
        self.inbox.close()

    def take(self, timeout: float = TAKE_WAIT) -> list[bytes] | None:
        return self.outbox.take(timeout)

    def pid(self) -> int:
        return os.getpid()


class ActorProcess:
    """What the pool and the run manager read of a worker's process, for an actor."""

    def __init__(self, actor: Any, pid: int | None):
        self.actor = actor
        self.pid = pid
        #: like a killed process's: -9 when the actor died under us, 0 when it ended
        self.exitcode: int | None = None

    def join(self, timeout: float | None = None) -> None:
        """The actor has ended once its reader has seen it go: nothing to wait for."""

    def is_alive(self) -> bool:
        return self.exitcode is None

    def kill(self) -> None:
        import ray

        with contextlib.suppress(Exception):  # already gone
            ray.kill(self.actor, no_restart=True)
        if self.exitcode is None:
            self.exitcode = -9


class RayHandle(WorkerHandle):
    """A pool worker that is a Ray actor: frames go down by actor calls, numbered."""

    _sent: int = 0

    @property
    def actor(self) -> Any:
        return self.process.actor

    def send(self, data: bytes) -> bool:
        with self.ctrl_lock:
            if self.dead:
                return False
            try:
                self.actor.send.remote(self._sent, data)
            except Exception:  # the actor is gone: its reader reports how it ended
                return False
            self._sent += 1
            return True

    def close(self) -> None:
        with self.ctrl_lock, contextlib.suppress(Exception):
            self.actor.close.remote()

    def bursts(self) -> Iterator[list[bytes]]:
        import ray

        while True:
            try:
                burst = ray.get(self.actor.take.remote())
            except ray.exceptions.RayActorError:
                self.process.exitcode = -9  # killed, or its node lost
                return
            except Exception:
                log.exception("pool worker %d: its actor could not be read", self.index)
                self.process.exitcode = -9
                return
            if burst is None:  # its scheduler ended: it exits
                self.process.exitcode = 0
                self.process.kill()
                return
            if burst:
                yield burst


class RayPool(WorkerPool):
    """The worker pool over Ray actors: `settings.workers` of them (0: one per CPU the Ray
    cluster has), each reserving one CPU so that Ray spreads them over its nodes."""

    def __init__(self, settings: Any, *args: Any, **kwargs: Any):
        import ray

        super().__init__(settings, *args, **kwargs)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.size = settings.workers or max(1, cpus)
        blas = str(settings.worker_blas_threads) if settings.worker_blas_threads > 0 else None
        env = {v: blas for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        self._actor_class = ray.remote(RayWorker).options(
            num_cpus=1,
            max_concurrency=4,
            max_restarts=0,  # a dead worker's runs resume elsewhere, from their checkpoints
            runtime_env={"env_vars": env} if blas else None,
        )

    def _new_worker(self, index: int) -> WorkerHandle:
        import ray

        actor = self._actor_class.remote(index, self.settings.metrics_flush_seconds)
        try:
            pid = ray.get(actor.pid.remote(), timeout=self.settings.worker_start_seconds)
        except Exception:
            pid = None
        return RayHandle(index, ActorProcess(actor, pid), None, None)  # type: ignore[arg-type]
