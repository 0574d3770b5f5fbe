"""Fan-out units: cursors over metric batches, latest-wins snapshots, dropping stalled clients."""

import asyncio

import orjson

from blockprop.service.stream import Channel, Client, Subscription, metrics_frame


def batch(seq: int) -> bytes:
    return orjson.dumps([{"step": seq}])


class FakeStore:
    def __init__(self):
        self.batches: dict[int, bytes] = {}

    async def fetch(self, run_id, after, until):
        return [(s, self.batches[s]) for s in range(after + 1, until + 1) if s in self.batches]


def make_channel(store=None, ring=4 * 60, last_seq=0):
    subs = []
    ch = Channel("r", last_seq, (store or FakeStore()).fetch, ring, lambda rid, s: subs.append(s))
    return ch, subs


def make_client(ch, sent, *, since=None, rate=0.0, timeout=1.0, block=None):
    async def send(text):
        if block is not None:
            await block.wait()
        sent.append(orjson.loads(text))

    async def hello():
        return {"run_id": "r"}

    return Client(ch, send, hello, since=since, rate=rate, send_timeout=timeout)


async def until(condition, timeout: float = 10) -> None:
    """Wait (polling the loop) until `condition()` holds; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def last_seq(sent) -> int:
    return max((f["seq"] for f in sent if f["type"] == "metrics"), default=0)


def publish(ch, store, seq):
    store.batches[seq] = batch(seq)
    ch.publish_metrics(seq, metrics_frame(seq, batch(seq)))


def test_a_client_catches_up_from_the_store_when_the_ring_has_moved_on():
    async def go():
        store = FakeStore()
        ch, _ = make_channel(store, ring=4 * 60)  # about 4 frames
        for seq in range(1, 21):
            publish(ch, store, seq)
        sent = []
        client = make_client(ch, sent, since=0)
        ch.add(client)
        await until(lambda: last_seq(sent) == 20)
        for seq in range(21, 26):
            publish(ch, store, seq)
        await until(lambda: last_seq(sent) == 25)
        client.drop("done")
        await client.task
        assert sent[0]["type"] == "hello" and sent[0]["since"] == 0
        assert [f["seq"] for f in sent[1:]] == list(range(1, 26))

    asyncio.run(go())


def test_snapshots_are_coalesced_latest_wins_at_the_client_rate():
    async def go():
        ch, subs = make_channel()
        sent = []
        client = make_client(ch, sent, rate=5.0)
        ch.add(client)
        assert subs[-1] == Subscription(rate=5.0, nodes=None, boundary=True)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(50):
            ch.publish_snapshot(orjson.dumps({"type": "snapshot", "step": i}).decode())
            await asyncio.sleep(0.01)
        # the newest one is delivered in the end
        await until(lambda: any(f.get("step") == 49 for f in sent))
        span = loop.time() - t0
        client.drop("done")
        await client.task
        steps = [f["step"] for f in sent if f["type"] == "snapshot"]
        assert steps[-1] == 49 and steps == sorted(steps)
        # coalesced: at most one per 1/5 s however long the 50 took (a first one at once)
        assert 2 <= len(steps) <= 5 * span + 1, (steps, span)
        ch.remove(client)
        assert subs[-1] == Subscription()

    asyncio.run(go())


def test_node_filter_and_subscription_union():
    async def go():
        ch, subs = make_channel()
        a, b = make_client(ch, [], rate=10.0), make_client(ch, [], rate=20.0)
        a.nodes = ["x"]
        b.nodes = ["y"]
        ch.add(a)
        ch.add(b)
        assert subs[-1].rate == 20.0 and sorted(subs[-1].nodes) == ["x", "y"]
        ch.publish_snapshot(
            orjson.dumps(
                {"type": "snapshot", "nodes": {"x": 1, "y": 2}, "params": {"x": 3}}
            ).decode()
        )
        assert orjson.loads(ch.snapshot_for(["x"])) == {
            "type": "snapshot",
            "nodes": {"x": 1},
            "params": {"x": 3},
        }
        for c in (a, b):
            c.drop("done")
            await c.task

    asyncio.run(go())


def test_a_stalled_client_is_dropped_and_others_carry_on():
    async def go():
        store = FakeStore()
        ch, _ = make_channel(store, ring=1_000_000)
        stuck, fine = [], []
        never = asyncio.Event()
        slow = make_client(ch, stuck, timeout=0.2, block=never)
        ok = make_client(ch, fine)
        ch.add(slow)
        ch.add(ok)
        for seq in range(1, 101):
            publish(ch, store, seq)
            await asyncio.sleep(0)
        await asyncio.wait_for(slow.task, 2)
        assert slow.closed and "accepted nothing" in slow.drop_reason
        await until(lambda: last_seq(fine) == 100)
        assert [f["seq"] for f in fine if f["type"] == "metrics"] == list(range(1, 101))
        ok.drop("done")
        await ok.task

    asyncio.run(go())


def test_status_comes_after_the_metrics_published_before_it():
    async def go():
        store = FakeStore()
        ch, _ = make_channel(store)
        sent = []
        client = make_client(ch, sent)
        ch.add(client)
        await until(lambda: sent)  # the hello
        publish(ch, store, 1)
        ch.publish_status('{"type": "status", "status": "done"}')
        await until(lambda: sent[-1]["type"] == "status")
        client.drop("done")
        await client.task
        assert [f["type"] for f in sent] == ["hello", "metrics", "status"]

    asyncio.run(go())
