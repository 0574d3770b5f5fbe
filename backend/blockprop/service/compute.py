"""The pool that computes heavy requests (evaluate, explain, gradcheck, exports), off the loop.

One call: ``await pool.run(job, *args, cost=bytes)`` runs ``job(*args)`` in a worker and returns
what it returned. Jobs are plain top-level functions (:mod:`blockprop.service.heavy`) that
return the encoded answer, so neither the computation nor the JSON encoding of a large answer
runs on the event loop that serves live streams.

- **Workers**: by default a few processes (spawn context, started on first use, each importing
  the engine once), at most one per core but one, so the event loop keeps a core: threads
  were measured not to suffice (tests/bench/bench_stream_under_load.py; the engine's Python
  code and orjson hold the GIL). ``compute_executor="thread"`` runs them in the server
  process instead (for embedding, and tests that register ops in-process).
- **Queue**: requests wait for a free worker; beyond ``compute_queue`` waiting, a request is
  refused at once with 429 ``busy`` and ``Retry-After``.
- **Memory**: each request declares its ``cost`` (the bytes of its tensors and its answer,
  estimated from the validated shapes); the requests in flight share
  ``compute_memory_bytes``. One that does not fit waits up to ``compute_memory_wait`` for
  others to finish, then gets 429 ``busy``; one that could never fit gets 413 ``too_large``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from blockprop.service.errors import ServiceError, from_issues

#: the stable code of the 429 a full pool answers
BUSY = "busy"


@dataclass(frozen=True)
class Failure:
    """A job's refusal carried back as plain data: exceptions whose constructors take several
    arguments (ServiceError, GraphError) do not survive pickling between processes."""

    status: int
    code: str
    message: str
    nodes: list[str]
    port: str | None

    def error(self) -> ServiceError:
        return ServiceError(self.status, self.code, self.message, self.nodes, self.port)


class Busy(ServiceError):
    """429 ``busy``: the pool is full; ``Retry-After`` says when to try again."""

    def __init__(self, message: str, seconds: int):
        super().__init__(429, BUSY, message)
        self.headers = {"Retry-After": str(seconds)}


def call(job: Callable[..., Any], args: tuple) -> Any:
    """Run ``job(*args)`` (in a worker): its result, or its refusal as a :class:`Failure`."""
    from blockprop.engine.graph import GraphError

    try:
        return job(*args)
    except GraphError as e:
        err = from_issues(e.issues)
        return Failure(err.status, err.code, err.message, err.nodes, err.port)
    except ServiceError as e:
        return Failure(e.status, e.code, e.message, e.nodes, e.port)


#: compute workers run at a lower priority: on a busy machine the event loop and the training
#: runs (live streams) get the CPU first, heavy requests a share of what is left. Not the
#: lowest: at 19 (weight 15 against 1024) a heavy request starves behind any busy process on
#: the machine (an ONNX export timed out after 30 s with two busy loops on two cores); at 10
#: (weight 110) it still gets about a tenth of a core against each.
NICE = 10


def _start_worker(blas_threads: int) -> None:
    """Worker start-up: a lower priority, BLAS threads before NumPy loads, then the engine and
    every op, once."""
    os.nice(NICE)
    if blas_threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(blas_threads)
    from blockprop.engine import registry

    registry.all_ops()


def default_workers() -> int:
    """One per core but one, at least one: the event loop keeps a core to itself."""
    return max(1, (os.cpu_count() or 1) - 1)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


class ComputePool:
    """Admission (queue depth, memory budget) and a lazily started executor. Used from the
    event loop only: its counters need no lock."""

    def __init__(
        self,
        *,
        workers: int = 0,
        queue: int = 8,
        memory_bytes: int = 1_000_000_000,
        memory_wait: float = 2.0,
        processes: bool = True,
        blas_threads: int = 1,
    ):
        self.workers = workers if workers > 0 else default_workers()
        self.queue = max(0, queue)
        self.memory_bytes = memory_bytes
        self.memory_wait = memory_wait
        self.processes = processes
        self.blas_threads = blas_threads
        self.admitted = 0  # running, or waiting for a worker or for memory
        self.memory_in_use = 0
        self._slots = asyncio.Semaphore(self.workers)
        self._freed = asyncio.Event()  # replaced by a fresh one each time memory is freed
        self._executor: Executor | None = None
        self._seconds = 1.0  # moving average of a job's duration, for Retry-After

    @classmethod
    def from_settings(cls, s: Any) -> ComputePool:
        return cls(
            workers=s.compute_workers,
            queue=s.compute_queue,
            memory_bytes=s.compute_memory_bytes,
            memory_wait=s.compute_memory_wait,
            processes=s.compute_executor == "process",
            blas_threads=s.worker_blas_threads,
        )

    async def run(self, job: Callable[..., Any], *args: Any, cost: int) -> Any:
        """``job(*args)`` in a worker, once admitted; raises its refusal as a ServiceError."""
        self._admit(cost)
        try:
            await self._slots.acquire()
        except BaseException:
            self.admitted -= 1
            raise
        try:
            await self._reserve(cost)
        except BaseException:
            self._slots.release()
            self.admitted -= 1
            raise
        result = await self._submit(job, args, cost)
        if isinstance(result, Failure):
            raise result.error()
        return result

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- admission

    def _admit(self, cost: int) -> None:
        if cost > self.memory_bytes:
            raise ServiceError(
                413,
                "too_large",
                f"this request needs about {_mb(cost)} of memory, over the server's budget of "
                f"{_mb(self.memory_bytes)} for requests in flight: use a smaller batch or "
                "smaller layers",
            )
        if self.admitted >= self.workers + self.queue:
            raise self._busy(
                f"the server is computing {self.workers} heavy request(s) with "
                f"{self.admitted - self.workers} more waiting, its limit"
            )
        self.admitted += 1

    async def _reserve(self, cost: int) -> None:
        """Wait (briefly) until ``cost`` bytes fit in the memory budget, then take them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.memory_wait
        while self.memory_in_use + cost > self.memory_bytes:
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait_for(self._freed.wait(), left)
            except TimeoutError:
                raise self._busy(
                    f"requests in flight hold {_mb(self.memory_in_use)} of the server's "
                    f"{_mb(self.memory_bytes)} memory budget and this one needs {_mb(cost)}"
                ) from None
        self.memory_in_use += cost

    def _busy(self, why: str) -> Busy:
        # about when a worker frees up: the average job times the rounds already waiting
        rounds = max(1, self.admitted) / self.workers
        seconds = min(60, max(1, math.ceil(self._seconds * rounds)))
        return Busy(f"{why}: retry in {seconds} s", seconds)

    # -- execution

    async def _submit(self, job: Callable[..., Any], args: tuple, cost: int) -> Any:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        executor = self._get_executor()
        try:
            future = executor.submit(call, job, args)
        except BrokenProcessPool:
            self._release(cost, started)
            raise self._lost(executor) from None
        # Slot and memory are freed when the job really ends, even if this request is
        # cancelled meanwhile (the worker goes on computing until then).
        future.add_done_callback(lambda _: self._on_loop(loop, self._release, cost, started))
        try:
            return await asyncio.shield(asyncio.wrap_future(future))
        except BrokenProcessPool:
            raise self._lost(executor) from None

    @staticmethod
    def _on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to free
            loop.call_soon_threadsafe(fn, *args)

    def _lost(self, executor: Executor) -> ServiceError:
        """A worker died (the OOM killer?): the next request starts fresh workers."""
        if self._executor is executor:
            self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
        return ServiceError(
            503, "unavailable", "the worker computing this request stopped (out of memory?): retry"
        )

    def _release(self, cost: int, started: float) -> None:
        self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)
        self.memory_in_use -= cost
        self.admitted -= 1
        self._slots.release()
        self._freed.set()
        self._freed = asyncio.Event()

    def _get_executor(self) -> Executor:
        if self._executor is None:
            if self.processes:
                self._executor = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.blas_threads,),
                )
            else:
                self._executor = ThreadPoolExecutor(self.workers, "blockprop-compute")
        return self._executor


__all__ = ["BUSY", "Busy", "ComputePool", "Failure", "call", "default_workers"]
