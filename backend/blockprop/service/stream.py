"""Fan-out of a run's live stream to its WebSocket clients (DESIGN "Stream").

Everything here runs on the event loop and never blocks: publishing is O(clients) small
assignments, and each client has its own sender task.

- Metrics are never queued per client. A channel keeps recent batches in a ring (and the store
  keeps them all); each client holds a cursor, `sent_seq`, and its sender sends batch
  `sent_seq + 1` until it has caught up. A slow client lags behind and catches up from the ring
  or the store; nothing is dropped and `seq` has no gaps. `hello {since}` just moves the cursor.
- Catching up is bounded in bytes, not batches: a client holds at most about `catch_up_bytes`
  of frames at a time (batches vary from a few bytes to a hundred kB). Frames read back from the
  store are kept in a small per-channel cache, so clients catching up through the same range
  share one copy (and one store read) instead of each holding its own.
- `status`, `snapshot` and `boundary` are latest-wins slots: a slow client skips to the newest.
  Snapshots go out no faster than the rate the client subscribed to.
- A send that the socket does not accept within `send_timeout` drops that client (it may
  reconnect and resync with `since`); other clients and the run never wait for it. Each send
  waits for the socket to drain (uvicorn's WebSocket protocols — websockets-sansio, the one
  chosen when `websockets` is installed, as well as websockets and wsproto — pause at the
  transport's 64 KiB high-water mark), so a slow reader holds at most about one frame plus
  64 KiB of the server's memory in its socket, and one catch-up batch.
- When the last client of a channel leaves, the frames read back for catching up are let go
  and freed memory is handed back to the system (`return_freed_memory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from blockprop.service.sender import Sender, return_freed_memory

log = logging.getLogger("blockprop.stream")

# (run id, after, until) → (seq, points JSON) for after < seq ≤ until, in order; it may stop
# early (the run manager's stops at about `ws_catch_up_bytes`)
FetchBatches = Callable[[str, int, int], Awaitable[list[tuple[int, bytes]]]]
# The cache of frames read back from the store holds this many clients' catch-up batches.
_COLD_CLIENTS = 8


def metrics_frame(seq: int, points_json: bytes) -> str:
    return f'{{"type":"metrics","seq":{seq},"points":{points_json.decode()}}}'


@dataclass
class Subscription:
    """What the worker must produce for a run: the union of its clients' wishes."""

    rate: float = 0.0  # snapshots per second (0: none)
    nodes: list[str] | None = None  # None: every node
    boundary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "nodes": self.nodes, "boundary": self.boundary}


def union(wishes: list[Any]) -> Subscription:
    """What a worker must produce for several wishes (clients, or replicas: anything with
    `rate`, `nodes` and `boundary`): the fastest rate, every node asked for, any boundary."""
    if not wishes:
        return Subscription()
    nodes: list[str] | None = []
    for w in wishes:
        if w.nodes is None or nodes is None:
            nodes = None
        else:
            nodes.extend(n for n in w.nodes if n not in nodes)
    return Subscription(
        rate=max(w.rate for w in wishes),
        nodes=nodes,
        boundary=any(w.boundary for w in wishes),
    )


class Client(Sender):
    """One WebSocket watching a run."""

    def __init__(
        self,
        channel: Channel,
        send_text: Callable[[str], Awaitable[None]],
        hello: Callable[[], Awaitable[dict[str, Any]]],
        *,
        since: int | None,
        rate: float,
        send_timeout: float,
    ):
        super().__init__(send_text, send_timeout)
        self.channel = channel
        self._hello = hello
        self.sent_seq = channel.last_seq
        self.pending_since: int | None = since
        self.want_hello = True
        self.rate = rate
        self.nodes: list[str] | None = None
        self.boundary = True
        self.outbox: list[str] = []  # replies (errors, acks), in order, bounded
        self.sent_status = -1
        self.sent_snapshot = -1
        self.sent_boundary = -1
        self.last_snapshot_at = 0.0
        self._timer = False

    def _timer_fired(self) -> None:
        self._timer = False
        self.wake.set()

    # -- called by the channel / the socket handler --

    def push(self, frame: dict[str, Any] | str) -> None:
        """Queue a reply frame (error, ack). Too many unsent ones drop the client."""
        if len(self.outbox) >= 256:
            self.drop("too many unsent replies: the client is not reading")
            return
        self.outbox.append(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
        self.wake.set()

    def resync(self, since: int | None) -> None:
        """Send a fresh hello, then every batch after `since` (None: carry on from here)."""
        self.pending_since = since
        self.want_hello = True
        self.wake.set()

    # -- the sender task --

    def _interrupted(self) -> bool:
        return self.closed or bool(self.outbox) or self.want_hello

    async def _catch_up(self) -> None:
        ch = self.channel
        while not self.closed:
            while self.outbox and not self.closed:
                await self._send(self.outbox.pop(0))
            if self.want_hello:
                self.want_hello = False
                if self.pending_since is not None:
                    self.sent_seq = max(0, min(self.pending_since, ch.last_seq))
                    self.pending_since = None
                    self.sent_status = self.sent_snapshot = self.sent_boundary = -1
                hello = await self._hello()
                hello.update({"type": "hello", "seq": ch.last_seq, "since": self.sent_seq})
                await self._send(orjson.dumps(hello).decode())
                continue
            if self.sent_seq >= ch.last_seq:
                return
            if not await self._send_batch():
                log.warning("run %s: metrics after seq %d are missing", ch.run_id, self.sent_seq)
                return

    async def _send_batch(self) -> bool:
        """The next frames after `sent_seq` (False if the store has lost them). A function of
        its own so the batch is let go before the next one is read."""
        frames = await self.channel.frames_after(self.sent_seq)
        if not frames or frames[0][0] != self.sent_seq + 1:
            return False
        for seq, text in frames:
            if self._interrupted() or seq != self.sent_seq + 1:
                break
            await self._send(text)
            self.sent_seq = seq
        return True

    async def _serve(self) -> None:
        ch = self.channel
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            await self._catch_up()
            if self.closed:
                break
            if self.sent_status != ch.status_version and ch.status_frame:
                self.sent_status = ch.status_version
                await self._send(ch.status_frame)
            if self.rate > 0 and self.sent_snapshot != ch.snapshot_version and ch.snapshot:
                due = self.last_snapshot_at + 1.0 / self.rate
                now = time.monotonic()
                if now >= due:
                    self.sent_snapshot = ch.snapshot_version
                    self.last_snapshot_at = now
                    await self._send(ch.snapshot_for(self.nodes))
                elif not self._timer:
                    self._timer = True
                    asyncio.get_running_loop().call_later(due - now, self._timer_fired)
            if (
                self.boundary
                and self.rate > 0
                and self.sent_boundary != ch.boundary_version
                and ch.boundary_frame
            ):
                self.sent_boundary = ch.boundary_version
                await self._send(ch.boundary_frame)


class Channel:
    """The live stream of one run, shared by its clients."""

    def __init__(
        self,
        run_id: str,
        last_seq: int,
        fetch: FetchBatches,
        ring_bytes: int,
        on_subscription: Callable[[str, Subscription], None],
        catch_up_bytes: int = 262_144,
    ):
        self.run_id = run_id
        self.last_seq = last_seq
        self._fetch = fetch
        self._ring: OrderedDict[int, str] = OrderedDict()
        self._ring_bytes = ring_bytes  # the recent frames kept, by total length
        self._ring_used = 0
        self._catch_up_bytes = catch_up_bytes  # what one client takes at a time
        # frames read back from the store, shared by every client catching up through them
        self._cold: OrderedDict[int, str] = OrderedDict()
        self._cold_used = 0
        self._reading = asyncio.Lock()  # one store read at a time: the others then share it
        self._on_subscription = on_subscription
        self.clients: set[Client] = set()
        #: since when (monotonic) nobody has watched: the channel's creation or the last client
        #: leaving (the run manager lets a paused run nobody watches yield its slot)
        self.unwatched_since = time.monotonic()
        self.status_frame: str | None = None
        self.status_version = 0
        self.snapshot: str | None = None
        self._snapshot_parsed: dict[str, Any] | None = None
        self._filtered: dict[tuple[str, ...], str] = {}
        self.snapshot_version = 0
        self.boundary_frame: str | None = None
        self.boundary_version = 0
        self.subscription = Subscription()

    # -- publishing (from the run manager) --

    def publish_metrics(self, seq: int, frame: str) -> None:
        if seq <= self.last_seq:
            return
        self._ring[seq] = frame
        self._ring_used += len(frame)
        while self._ring_used > self._ring_bytes and len(self._ring) > 1:
            self._ring_used -= len(self._ring.popitem(last=False)[1])
        self.last_seq = seq
        for c in self.clients:
            c.notify()

    def publish_status(self, frame: str) -> None:
        self.status_frame = frame
        self.status_version += 1
        for c in self.clients:
            c.notify()

    def publish_snapshot(self, frame: str) -> None:
        self.snapshot = frame
        self._snapshot_parsed = None
        self._filtered = {}
        self.snapshot_version += 1
        for c in self.clients:
            if c.rate > 0:
                c.notify()

    def publish_boundary(self, frame: str) -> None:
        self.boundary_frame = frame
        self.boundary_version += 1
        for c in self.clients:
            if c.boundary and c.rate > 0:
                c.notify()

    # -- reading (from client senders) --

    async def frames_after(self, seq: int) -> list[tuple[int, str]]:
        """Metric frames seq+1, seq+2, …, about `catch_up_bytes` of them (one at least): from
        the ring, else from the frames already read back from the store, else from the store."""
        frames = self._slice(self._ring, seq) or self._slice(self._cold, seq)
        if frames:
            return frames
        async with self._reading:
            # a client waiting here usually wants what the one before it has just read
            return self._slice(self._cold, seq) or await self._read_back(seq)

    def _slice(self, frames: dict[int, str], seq: int) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        used, s = 0, seq + 1
        while used < self._catch_up_bytes and (text := frames.get(s)) is not None:
            out.append((s, text))
            used += len(text)
            s += 1
        return out

    async def _read_back(self, seq: int) -> list[tuple[int, str]]:
        oldest = next(iter(self._ring), self.last_seq + 1)
        rows = await self._fetch(self.run_id, seq, oldest - 1)
        frames = [(s, metrics_frame(s, pts)) for s, pts in rows]
        del rows  # the points bytes: only the frames are kept
        for s, text in frames:
            self._cold[s] = text
            self._cold_used += len(text)
        # a few clients' worth: enough for a crowd moving through the history together
        while self._cold_used > _COLD_CLIENTS * self._catch_up_bytes and len(self._cold) > 1:
            self._cold_used -= len(self._cold.popitem(last=False)[1])
        return frames

    def _forget_read_back(self) -> None:
        self._cold.clear()
        self._cold_used = 0

    def snapshot_for(self, nodes: list[str] | None) -> str:
        assert self.snapshot is not None
        if not nodes:
            return self.snapshot
        key = tuple(sorted(nodes))
        text = self._filtered.get(key)
        if text is None:
            if self._snapshot_parsed is None:
                self._snapshot_parsed = orjson.loads(self.snapshot)
            snap = dict(self._snapshot_parsed)
            allowed = set(nodes)
            snap["nodes"] = {k: v for k, v in snap.get("nodes", {}).items() if k in allowed}
            if isinstance(snap.get("params"), dict):
                snap["params"] = {k: v for k, v in snap["params"].items() if k in allowed}
            text = orjson.dumps(snap).decode()
            if len(self._filtered) < 64:
                self._filtered[key] = text
        return text

    # -- clients --

    def add(self, client: Client) -> None:
        self.clients.add(client)
        client.task = asyncio.get_running_loop().create_task(client.run())
        self.update_subscription()

    def remove(self, client: Client) -> None:
        client.drop(client.drop_reason or "closed")
        if client in self.clients:
            self.clients.discard(client)
            if not self.clients:
                self.unwatched_since = time.monotonic()
                self._forget_read_back()
                return_freed_memory()
        self.update_subscription()

    def update_subscription(self) -> None:
        sub = union([c for c in self.clients if c.rate > 0 and not c.closed])
        if sub != self.subscription:
            self.subscription = sub
            self._on_subscription(self.run_id, sub)


class Hub:
    """Channels by run id; a channel lives while its run is live or it has clients."""

    def __init__(
        self,
        fetch: FetchBatches,
        ring_bytes: int,
        on_subscription: Callable[[str, Subscription], None],
        catch_up_bytes: int = 262_144,
    ):
        self._fetch = fetch
        self._ring_bytes = ring_bytes
        self._on_subscription = on_subscription
        self._catch_up_bytes = catch_up_bytes
        self.channels: dict[str, Channel] = {}
        self._pinned: set[str] = set()

    def channel(self, run_id: str, last_seq: int) -> Channel:
        ch = self.channels.get(run_id)
        if ch is None:
            ch = Channel(
                run_id,
                last_seq,
                self._fetch,
                self._ring_bytes,
                self._on_subscription,
                self._catch_up_bytes,
            )
            self.channels[run_id] = ch
        return ch

    def get(self, run_id: str) -> Channel | None:
        return self.channels.get(run_id)

    def pin(self, run_id: str, last_seq: int) -> Channel:
        """Keep the channel while the run is live."""
        self._pinned.add(run_id)
        return self.channel(run_id, last_seq)

    def unpin(self, run_id: str) -> None:
        self._pinned.discard(run_id)
        self.release(run_id)

    def release(self, run_id: str) -> None:
        ch = self.channels.get(run_id)
        if ch is not None and not ch.clients and run_id not in self._pinned:
            del self.channels[run_id]

    async def close_all(self) -> None:
        for ch in list(self.channels.values()):
            for c in list(ch.clients):
                c.drop("the server is shutting down")
                if c.task:
                    c.task.cancel()
                    with contextlib.suppress(BaseException):
                        await c.task
