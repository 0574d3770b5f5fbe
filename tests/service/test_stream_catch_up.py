"""Catching up from the store: bounded in bytes per client, one shared read for a crowd."""

from __future__ import annotations

import asyncio

import orjson

from blockprop.service.store import Store
from blockprop.service.stream import Channel, Client, metrics_frame

BUDGET = 10_000


def big_batch(seq: int, size: int = 3_000) -> bytes:
    return orjson.dumps([{"step": seq, "pad": "x" * size}])


class CountingStore:
    """The real SQLite store behind the run manager's fetch, counting the reads."""

    def __init__(self, tmp_path, batches: int):
        self.store = Store(tmp_path / "s.sqlite")
        self.store.create_run("r", None, "run", {"nodes": []}, {"name": "xor"}, {}, "running", "h")
        for seq in range(1, batches + 1):
            self.store.add_metrics("r", seq, seq, seq, big_batch(seq), step=seq)
        self.reads: list[tuple[int, int]] = []

    async def fetch(self, run_id: str, after: int, until: int) -> list[tuple[int, bytes]]:
        rows = await asyncio.to_thread(
            self.store.metric_batches, run_id, after, until, 10_000, BUDGET
        )
        self.reads.append((after, len(rows)))
        return rows


def make_client(ch: Channel, seqs: list[int], gate: asyncio.Event | None = None) -> Client:
    async def send(text: str) -> None:
        frame = orjson.loads(text)
        if frame["type"] == "metrics":
            seqs.append(frame["seq"])
            if gate is not None:
                await gate.wait()

    async def hello() -> dict:
        return {"run_id": "r"}

    return Client(ch, send, hello, since=0, rate=0.0, send_timeout=5.0)


def test_metric_batches_stop_at_the_byte_budget(tmp_path):
    source = CountingStore(tmp_path, 20)
    rows = source.store.metric_batches("r", 0, None, 10_000, BUDGET)
    sizes = [len(p) for _, p in rows]
    # whole batches, just past the budget, never a batch more
    assert [s for s, _ in rows] == list(range(1, len(rows) + 1))
    assert sum(sizes) >= BUDGET and sum(sizes[:-1]) < BUDGET
    one = source.store.metric_batches("r", 5, None, 10_000, 1)
    assert [s for s, _ in one] == [6]  # one batch at least, however small the budget
    assert len(source.store.metric_batches("r", 0)) == 20  # no budget: as before


def test_a_crowd_catching_up_shares_the_store_reads_and_each_holds_little(tmp_path):
    async def go() -> None:
        source = CountingStore(tmp_path, 60)
        ring = 4 * len(metrics_frame(60, big_batch(60)))  # the last few batches only
        ch = Channel("r", 0, source.fetch, ring, lambda *_: None, catch_up_bytes=BUDGET)
        for seq in range(1, 61):
            ch.publish_metrics(seq, metrics_frame(seq, big_batch(seq)))
        held: list[int] = []
        real = ch.frames_after

        async def watched(seq: int) -> list[tuple[int, str]]:
            frames = await real(seq)
            held.append(sum(len(t) for _, t in frames))
            return frames

        ch.frames_after = watched  # type: ignore[method-assign]
        seqs: list[list[int]] = [[] for _ in range(20)]
        clients = [make_client(ch, s) for s in seqs]
        for c in clients:
            ch.add(c)
        await asyncio.wait_for(_until(lambda: all(len(s) == 60 for s in seqs)), 10)
        for s in seqs:
            assert s == list(range(1, 61))
        # every batch a client held was about the budget (one frame over at most)
        frame_len = len(metrics_frame(60, big_batch(60)))
        assert max(held) < BUDGET + frame_len
        # 20 clients, but the store was read about once per budget's worth of history,
        # not once per client
        read_back = sum(n for _, n in source.reads)
        assert read_back < 2 * 60, source.reads
        for c in clients:
            ch.remove(c)
            await c.task
        assert not ch._cold  # nobody left: the read-back frames are let go

    asyncio.run(go())


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.005)
