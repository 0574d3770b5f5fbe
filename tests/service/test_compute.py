"""The compute pool's admission: queue depth (429 busy with Retry-After), the memory budget
(wait, then 429; 413 beyond it), slots held until a job really ends, errors carried back.

Jobs here block on events the test sets, so every state is reached on purpose, not by timing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import orjson
import pytest

from blockprop.engine.graph import GraphError, Issue
from blockprop.examples import get_example
from blockprop.service import heavy
from blockprop.service.compute import BUSY, Busy, ComputePool
from blockprop.service.errors import ServiceError


def hold(started: threading.Event, release: threading.Event, value: Any) -> Any:
    """A job that says it started, then waits until the test lets it finish."""
    started.set()
    assert release.wait(10), "the test never released the job"
    return value


def fail(code: str) -> None:
    raise GraphError(Issue(code, f"a {code} in node 'a'", ["a"], "x"))


class Held:
    """A job in the pool, blocked until `release()`."""

    def __init__(self, pool: ComputePool, cost: int = 0, value: Any = "done"):
        self.started, self.released = threading.Event(), threading.Event()
        self.task = asyncio.create_task(
            pool.run(hold, self.started, self.released, value, cost=cost)
        )

    async def running(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 10), "the job never started"

    def release(self) -> None:
        self.released.set()


async def until(predicate: Any, timeout: float = 10) -> None:
    """Yield to the loop until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def pool(**kw: Any) -> ComputePool:
    return ComputePool(processes=False, **kw)


def test_a_full_pool_refuses_at_once_with_retry_after():
    async def go() -> None:
        p = pool(workers=1, queue=1)
        a = Held(p)
        await a.running()
        b = Held(p, value="b")
        await until(lambda: p.admitted == 2)  # b waits for the worker
        with pytest.raises(Busy) as e:
            await p.run(hold, threading.Event(), threading.Event(), None, cost=0)
        assert e.value.status == 429 and e.value.code == BUSY == "busy"
        assert int(e.value.headers["Retry-After"]) >= 1
        assert "retry in" in e.value.message
        assert not b.started.is_set()
        a.release()
        await b.running()
        b.release()
        assert await a.task == "done" and await b.task == "b"
        assert p.admitted == 0 and p.memory_in_use == 0
        p.shutdown()

    asyncio.run(go())


def test_memory_budget_makes_a_request_wait_for_memory_then_run():
    async def go() -> None:
        p = pool(workers=2, memory_bytes=100, memory_wait=10)
        a = Held(p, cost=60)
        await a.running()
        b = Held(p, cost=60)
        await until(lambda: p.admitted == 2)
        assert p.memory_in_use == 60 and not b.started.is_set()  # a worker is free: memory is not
        a.release()
        await b.running()
        assert p.memory_in_use == 60
        b.release()
        await asyncio.gather(a.task, b.task)
        assert p.memory_in_use == 0
        p.shutdown()

    asyncio.run(go())


def test_memory_budget_refuses_a_request_that_waited_long_enough():
    async def go() -> None:
        p = pool(workers=2, memory_bytes=100, memory_wait=0.05)
        a = Held(p, cost=60)
        await a.running()
        with pytest.raises(Busy) as e:
            await p.run(hold, threading.Event(), threading.Event(), None, cost=60)
        assert "memory budget" in e.value.message and "Retry-After" in e.value.headers
        assert p.admitted == 1 and p.memory_in_use == 60  # the refused one left nothing behind
        a.release()
        await a.task
        p.shutdown()

    asyncio.run(go())


def test_a_request_larger_than_the_whole_budget_is_too_large():
    async def go() -> None:
        p = pool(memory_bytes=100)
        with pytest.raises(ServiceError) as e:
            await p.run(hold, threading.Event(), threading.Event(), None, cost=101)
        assert (e.value.status, e.value.code) == (413, "too_large")
        assert "budget" in e.value.message and p.admitted == 0

    asyncio.run(go())


def test_a_cancelled_request_keeps_its_slot_until_its_job_ends():
    async def go() -> None:
        p = pool(workers=1, queue=0, memory_bytes=100)
        a = Held(p, cost=50)
        await a.running()
        a.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a.task
        # the worker still computes a's job: its slot and memory stay taken
        assert p.admitted == 1 and p.memory_in_use == 50
        with pytest.raises(Busy):
            await p.run(hold, threading.Event(), threading.Event(), None, cost=0)
        a.release()
        await until(lambda: p.admitted == 0)
        assert p.memory_in_use == 0
        b = Held(p, value="b")
        b.release()
        assert await b.task == "b"
        p.shutdown()

    asyncio.run(go())


def test_job_errors_come_back_in_the_error_shape():
    async def go() -> None:
        p = pool()
        with pytest.raises(ServiceError) as e:
            await p.run(fail, "cycle", cost=0)
        assert (e.value.status, e.value.code) == (422, "cycle")
        assert e.value.nodes == ["a"] and e.value.port == "x"
        p.shutdown()

    asyncio.run(go())


def test_worker_processes_compute_real_jobs_and_carry_errors_back():
    """The default executor: spawned processes (pickled jobs, answers and refusals)."""
    graph = get_example("xor")["graph"]
    feeds = {"x": np.array([[0.0, 1.0], [1.0, 1.0]]), "y": np.array([[1.0], [0.0]])}

    async def go() -> None:
        p = ComputePool(workers=1, processes=True)
        try:
            data = await p.run(heavy.evaluate, graph, feeds, 2, 0, True, 10**8, cost=0)
            body = orjson.loads(data)
            assert set(body) == {"loss", "values", "grads", "param_grads", "state"}
            assert np.asarray(body["values"]["hidden"]).shape == (2, 4)
            wrong = {"x": np.zeros((2, 3)), "y": feeds["y"]}  # x takes 2 numbers per sample
            with pytest.raises(ServiceError) as e:
                await p.run(heavy.evaluate, graph, wrong, 2, 0, True, 10**8, cost=0)
            assert (e.value.status, e.value.code, e.value.nodes) == (422, "bad_feed", ["x"])
        finally:
            p.shutdown()

    asyncio.run(go())


def test_a_worker_that_dies_answers_unavailable_and_the_next_request_gets_a_fresh_one():
    """As when the OOM killer ends a worker: 503 for its request, not a broken pool."""
    import os

    async def go() -> None:
        p = ComputePool(workers=1, processes=True)
        try:
            with pytest.raises(ServiceError) as e:
                await p.run(os._exit, 9, cost=10)
            assert (e.value.status, e.value.code) == (503, "unavailable")
            await until(lambda: p.admitted == 0)
            assert p.memory_in_use == 0
            assert await p.run(abs, -3, cost=0) == 3
        finally:
            p.shutdown()

    asyncio.run(go())
