"""Which live run yields its slot: paused or held, untouched and unwatched for
`idle_yield_seconds`, the one waiting longest (RunManager._idle_run, without processes)."""

import asyncio
import time

from blockprop.service.live_run import LiveRun
from blockprop.service.runs import RunManager
from blockprop.settings import Settings

from .test_stream import make_channel, make_client


def manager(idle: float = 1.0) -> RunManager:
    return RunManager(None, Settings(max_runs=3, idle_yield_seconds=idle))  # type: ignore[arg-type]


def add(m: RunManager, run_id: str, status: str, waited: float | None) -> LiveRun:
    live = LiveRun(run_id, None, status=status)
    now = time.monotonic()
    live.waiting_since = None if waited is None else now - waited
    m.live[run_id] = live
    m.hub.pin(run_id, 0).unwatched_since = now - 100
    return live


def test_the_run_waiting_longest_is_chosen_among_idle_ones():
    m = manager()
    add(m, "running", "running", None)
    add(m, "lately", "paused", 0.2)
    add(m, "paused", "paused", 5)
    held = add(m, "held", "diverged", 9)
    assert m._idle_run() is held
    held.parking = True  # already on its way out
    assert m._idle_run() is m.live["paused"]


def test_a_watched_run_or_one_watched_lately_is_not_idle():
    async def go():
        m = manager()
        add(m, "a", "paused", 5)
        ch = m.hub.get("a")
        client = make_client(ch, [])
        ch.add(client)
        assert m._idle_run() is None
        left = time.monotonic()
        ch.remove(client)  # its last watcher leaves: the idle time starts again
        assert left <= ch.unwatched_since <= time.monotonic()
        assert m._idle_run() is None
        ch.unwatched_since -= 1.0
        assert m._idle_run() is m.live["a"]

    asyncio.run(go())


def test_a_negative_idle_time_never_parks():
    m = manager(idle=-1)
    add(m, "a", "paused", 1e6)
    assert m._idle_run() is None


def test_a_channel_counts_as_unwatched_from_its_creation():
    before = time.monotonic()
    ch, _ = make_channel()
    assert before <= ch.unwatched_since <= time.monotonic()
