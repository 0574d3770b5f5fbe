"""The run manager as a Ray actor (`BLOCKPROP_EXECUTOR=ray`), and its relay to Redis.

In this mode no API replica holds a run. One detached actor, `RunsActor` (named `runs` in the
deployment's namespace, created by whichever replica comes first), hosts the ordinary
`RunManager` — the same admission, queue, parking, recording and control — over a pool of
worker actors (ray_pool.py). A replica killed takes no run with it.

What the manager would hand its stream hub goes to Redis instead (`Relay`): every frame of a run
is published on `blockprop:run:<id>` (metrics with their `seq`, after they are stored), and the
latest status, snapshot and boundary are also kept at `blockprop:run-latest:<id>`, so a replica
that opens a stream mid-run starts from them. Each replica fans a run out to its own clients
(remote_runs.py); what those clients subscribe to (snapshot rate, nodes, boundary) comes back
here per replica, and the worker produces their union.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from blockprop.service.errors import ServiceError
from blockprop.service.stream import Channel, Hub, Subscription, union

log = logging.getLogger("blockprop.runs")

CHANNEL = "blockprop:run:"  # + run id: the run's frames
LATEST = "blockprop:run-latest:"  # + run id: a hash of its latest status, snapshot, boundary
LATEST_TTL = 7 * 86400
#: frames waiting for Redis beyond this are dropped (metrics are in the store: clients fill the
#: gap from there), statuses never
MAX_WAITING = 50_000
ACTOR_NAME = "runs"

#: the RunManager methods a replica may call (RemoteRuns), by name
CALLS = ("create", "resume", "pause", "step", "stop_run", "set", "trained_state")


def encode(kind: str, text: str, seq: int = 0) -> str:
    """A relayed frame: its kind (`m` metrics, `s` status, `n` snapshot, `b` boundary), the
    seq of a metrics batch, a space, the frame as the stream sends it."""
    return f"{kind}{seq if kind == 'm' else ''} {text}"


def decode(message: str) -> tuple[str, int, str]:
    head, _, text = message.partition(" ")
    return head[:1], int(head[1:] or 0), text


class Relay:
    """Publishes frames to Redis in order, in pipelined bursts, off the caller's path."""

    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url)
        self._queue: asyncio.Queue[tuple[str, str, int, str]] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump())

    def put(self, run_id: str, kind: str, text: str, seq: int = 0) -> None:
        if self._queue.qsize() >= MAX_WAITING and kind != "s":
            return
        self._queue.put_nowait((run_id, kind, seq, text))

    async def _pump(self) -> None:
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty() and len(items) < 512:
                items.append(self._queue.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as p:
                    for run_id, kind, seq, text in items:
                        p.publish(CHANNEL + run_id, encode(kind, text, seq))
                        if kind != "m":
                            p.hset(LATEST + run_id, kind, text)
                            p.expire(LATEST + run_id, LATEST_TTL)
                    await p.execute()
            except Exception:
                log.exception("could not publish %d frames to Redis", len(items))


class RelayChannel(Channel):
    """A run's channel in the actor: it has no clients of its own; it relays."""

    relay: Relay

    def publish_metrics(self, seq: int, frame: str) -> None:
        if seq > self.last_seq:
            self.last_seq = seq
            self.relay.put(self.run_id, "m", frame, seq)

    def publish_status(self, frame: str) -> None:
        self.status_frame = frame
        self.relay.put(self.run_id, "s", frame)

    def publish_snapshot(self, frame: str) -> None:
        self.relay.put(self.run_id, "n", frame)

    def publish_boundary(self, frame: str) -> None:
        self.relay.put(self.run_id, "b", frame)


class RelayHub(Hub):
    """The manager's hub in the actor: channels that relay, with the replicas' subscriptions."""

    def __init__(self, relay: Relay, on_subscription: Any):
        super().__init__(_no_fetch, 0, on_subscription)
        self.relay = relay
        #: run id -> replica -> what that replica's clients want
        self.wishes: dict[str, dict[str, Subscription]] = {}

    def channel(self, run_id: str, last_seq: int) -> Channel:
        ch = self.channels.get(run_id)
        if ch is None:
            ch = RelayChannel(run_id, last_seq, _no_fetch, 0, self._on_subscription)
            ch.relay = self.relay
            ch.subscription = self._union(run_id)  # replicas may have asked before it started
            self.channels[run_id] = ch
        return ch

    def unpin(self, run_id: str) -> None:
        super().unpin(run_id)
        self.wishes.pop(run_id, None)  # the run has ended

    def wish(self, run_id: str, replica: str, sub: Subscription) -> None:
        """A replica's clients of a run now want `sub`: the worker produces the union."""
        wishes = self.wishes.setdefault(run_id, {})
        if sub.rate > 0:
            wishes[replica] = sub
        else:
            wishes.pop(replica, None)
        if not wishes:
            del self.wishes[run_id]
        union = self._union(run_id)
        ch = self.channels.get(run_id)
        if ch is not None and union != ch.subscription:
            ch.subscription = union
            self._on_subscription(run_id, union)

    def _union(self, run_id: str) -> Subscription:
        return union(list(self.wishes.get(run_id, {}).values()))


async def _no_fetch(run_id: str, after: int, until: int) -> list[tuple[int, bytes]]:
    return []  # the actor's channels serve no client: replicas read the store themselves


class RunsActor:
    """The actor class (made remote by remote_runs.py): a RunManager for every replica."""

    def __init__(self, settings: dict[str, Any]):
        from blockprop.engine import registry
        from blockprop.service.runs import RunManager
        from blockprop.service.store import Store
        from blockprop.settings import Settings

        registry.all_ops()
        self.settings = Settings(**settings)
        self.store = Store(self.settings.database)
        self.manager = RunManager(self.store, self.settings)
        assert self.settings.redis_url, "the Ray executor needs BLOCKPROP_REDIS_URL"
        self.relay = Relay(self.settings.redis_url)
        self.hub = RelayHub(self.relay, self.manager._on_subscription)
        self.manager.hub = self.hub
        self._started: asyncio.Task | None = None

    async def start(self) -> bool:
        """Start the manager once, however many replicas ask (they all wait for it)."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._started)
        return True

    async def _start(self) -> None:
        self.relay.start()
        await self.manager.start()

    async def call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, Any]:
        """RunManager.`name`(*args, **kwargs): ("ok", result) or ("error", a ServiceError's
        fields), so that a refusal reaches the replica as the same error, not a traceback."""
        if name not in CALLS:
            return "error", (400, "invalid_request", f"no such call: {name}", [], None, None)
        await self.start()  # restarted by Ray after a crash: it starts again on first use
        try:
            return "ok", await getattr(self.manager, name)(*args, **kwargs)
        except ServiceError as e:
            return "error", (e.status, e.code, e.message, e.nodes, e.port, e.headers)

    async def check_client(self, client: str) -> tuple[str, Any]:
        try:
            self.manager.check_client(client)
            return "ok", None
        except ServiceError as e:
            return "error", (e.status, e.code, e.message, e.nodes, e.port, e.headers)

    async def subscribe(self, run_id: str, replica: str, sub: dict[str, Any]) -> None:
        self.hub.wish(run_id, replica, Subscription(**sub))

    async def overview(self) -> dict[str, Any]:
        """What replicas answer without asking: the load line and the queue's positions."""
        await self.start()
        m = self.manager
        return {
            "load": m.load_summary(),
            "queue": {run_id: m.queue_info(run_id) for run_id in m.queue},
            "live": list(m.live),
        }

    async def shutdown(self) -> None:
        """Stop every run (`interrupted`, resumable) — for tearing a deployment down."""
        await self.manager.shutdown()
