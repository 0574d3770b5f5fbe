"""An API replica's runs when they train on Ray (`BLOCKPROP_EXECUTOR=ray`): stateless.

`RemoteRuns` has the methods the routes call on a `RunManager` and forwards each to the one
`RunsActor` of the deployment (runs_actor.py), which creates it on first use (detached: it
outlives every replica). Refusals come back as the same `ServiceError`.

Streams: the replica keeps its own `Hub` for its own WebSocket clients, fed from Redis — one
pattern subscription to every run's channel — and from the shared store: a metrics batch is
published only after it is stored, so a batch missed on Redis (a reconnection) is read back from
the store by the clients' ordinary catch-up, and `seq` stays gap-free whichever replica serves
the stream, and whichever replica started the run. A channel opened mid-run starts from the
latest status, snapshot and boundary kept in Redis.

The load line and queue positions, which the routes read without awaiting, come from an
overview of the actor refreshed every `OVERVIEW_EVERY` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from blockprop.service.errors import ServiceError
from blockprop.service.live_run import prime_finished
from blockprop.service.runs_actor import ACTOR_NAME, CALLS, CHANNEL, LATEST, RunsActor, decode
from blockprop.service.store import RunRow, Store
from blockprop.service.stream import Hub, Subscription
from blockprop.settings import Settings

log = logging.getLogger("blockprop.runs")

OVERVIEW_EVERY = 0.5


def connect(settings: Settings) -> None:
    """Join the Ray cluster (once per process)."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address=settings.ray_address or "auto",
            namespace=settings.ray_namespace,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )


def runs_actor(settings: Settings) -> Any:
    """The deployment's RunsActor: found by name, or created (detached) by the first replica."""
    import ray

    actor_class = ray.remote(RunsActor).options(
        name=ACTOR_NAME,
        namespace=settings.ray_namespace,
        lifetime="detached",
        get_if_exists=True,
        num_cpus=0,  # it records and relays; the workers train
        max_concurrency=1000,
        # crashed, Ray starts it again: its runs become `interrupted`, resumable from checkpoints
        max_restarts=-1,
    )
    return actor_class.remote(settings.model_dump(mode="json"))


def _raise(result: tuple[str, Any]) -> Any:
    kind, value = result
    if kind == "error":
        status, code, message, nodes, port, headers = value
        raise ServiceError(status, code, message, nodes, port, headers)
    return value


class RemoteRuns:
    def __init__(self, store: Store, settings: Settings):
        if not settings.redis_url:
            raise RuntimeError(
                "BLOCKPROP_EXECUTOR=ray needs BLOCKPROP_REDIS_URL: replicas stream runs through it"
            )
        self.store = store
        self.settings = settings
        self.replica = uuid.uuid4().hex[:12]
        self.hub = Hub(
            self._fetch_batches,
            settings.ws_ring_bytes,
            self._on_subscription,
            catch_up_bytes=settings.ws_catch_up_bytes,
        )
        self.actor: Any = None
        self._overview: dict[str, Any] = {"load": {}, "queue": {}, "live": []}
        self._tasks: list[asyncio.Task] = []
        self._redis: Any = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        import redis.asyncio as aioredis

        await asyncio.to_thread(connect, self.settings)
        self.actor = await asyncio.to_thread(runs_actor, self.settings)
        await self.actor.start.remote()
        self._redis = aioredis.from_url(self.settings.redis_url)
        pubsub = self._redis.pubsub()
        await pubsub.psubscribe(CHANNEL + "*")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen(pubsub)), loop.create_task(self._poll())]
        await self._refresh()

    async def shutdown(self) -> None:
        """This replica goes; the runs stay (they are the actor's)."""
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(BaseException):
                await t
        await self.hub.close_all()
        if self._redis is not None:
            await self._redis.aclose()

    # ------------------------------------------------------------------ the routes' calls

    async def _call(self, call: str, *args: Any, **kwargs: Any) -> Any:
        import ray

        assert call in CALLS
        try:
            result = await self.actor.call.remote(call, list(args), kwargs)
        except ray.exceptions.RayError as e:
            log.warning("the runs actor did not answer %s: %s", call, type(e).__name__)
            raise ServiceError(
                503,
                "unavailable",
                "the training cluster is not answering (it may be restarting); try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        return _raise(result)

    async def create(self, **kwargs: Any) -> tuple[RunRow, str]:
        return await self._call("create", **kwargs)

    async def resume(self, run: RunRow, *, paused: bool = False, client: str = "") -> None:
        await self._call("resume", run, paused=paused, client=client)

    async def pause(self, run_id: str) -> None:
        await self._call("pause", run_id)

    async def step(self, run_id: str, n: int) -> None:
        await self._call("step", run_id, n)

    async def stop_run(self, run: RunRow) -> None:
        await self._call("stop_run", run)

    async def set(self, run_id: str, values: dict[str, Any]) -> None:
        await self._call("set", run_id, values)

    async def trained_state(self, row: RunRow, step: int | None = None) -> dict[str, Any] | None:
        return await self._call("trained_state", row, step)

    def check_client(self, client: str) -> None:
        """Checked by the actor when it creates or restarts the run (it knows every client)."""

    def queue_info(self, run_id: str) -> dict[str, Any] | None:
        return self._overview["queue"].get(run_id)

    def load_summary(self) -> dict[str, Any]:
        return self._overview["load"]

    def live_count(self) -> int:
        return len(self._overview["live"])

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(OVERVIEW_EVERY)
            with contextlib.suppress(Exception):
                await self._refresh()

    async def _refresh(self) -> None:
        self._overview = await self.actor.overview.remote()

    # ------------------------------------------------------------------ streams

    async def prime(self, channel: Any, row: RunRow) -> None:
        """A new channel's latest-wins slots: from Redis while the run is live, else from the
        store (its final status, snapshot and boundary)."""
        if not row.live:
            await prime_finished(channel, self.store, row)
            return
        fresh = await asyncio.to_thread(self.store.get_run, row.id)
        if fresh is not None and fresh.last_seq > channel.last_seq:
            channel.last_seq = fresh.last_seq  # stored while the channel was being opened
        latest = await self._redis.hgetall(LATEST + row.id)
        for kind, publish in (
            (b"s", channel.publish_status),
            (b"n", channel.publish_snapshot),
            (b"b", channel.publish_boundary),
        ):
            if kind in latest and (kind != b"s" or channel.status_frame is None):
                publish(latest[kind].decode())
        if channel.status_frame is None:
            await prime_finished(channel, self.store, row)

    def _on_subscription(self, run_id: str, sub: Subscription) -> None:
        if self.actor is not None:
            self.actor.subscribe.remote(run_id, self.replica, sub.to_dict())

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message.get("type") == "pmessage":
                        self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: subscribe again (clients resync from the store)
                log.exception("the run stream subscription to Redis broke: resubscribing")
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    pubsub = self._redis.pubsub()
                    await pubsub.psubscribe(CHANNEL + "*")

    def _deliver(self, channel_name: bytes, data: bytes) -> None:
        run_id = channel_name[len(CHANNEL) :].decode()
        ch = self.hub.get(run_id)
        if ch is None:
            return
        kind, seq, text = decode(data.decode())
        if kind == "m":
            ch.publish_metrics(seq, text)
        elif kind == "s":
            ch.publish_status(text)
        elif kind == "n":
            ch.publish_snapshot(text)
        elif kind == "b":
            ch.publish_boundary(text)

    async def _fetch_batches(self, run_id: str, after: int, until: int) -> list[tuple[int, bytes]]:
        budget = self.settings.ws_catch_up_bytes
        return await asyncio.to_thread(
            self.store.metric_batches, run_id, after, until, 10_000, budget
        )
