"""Classroom sessions in Redis (`BLOCKPROP_REDIS_URL`): any replica serves any session.

Each session is one JSON string at `blockprop:session:<id>` (graph, view, versions, the edit
token's hash, created and updated times) whose TTL is the idle expiry: every change renews it,
and so does each replica, regularly, for the sessions its followers watch (a followed session
never expires, as in memory). Every change is published on the channel of the same name: the
new document (without the graph when the graph did not change), or `{"closed": reason}` when
the session ends. A restart of a replica therefore ends no session.

A replica keeps a mirror `Session` only of the sessions its own followers watch, subscribed to
their channels on its one pub/sub connection, and fans every message out to those followers
with the same latest-wins `Follower` as the in-memory hub. While it has mirrors it also re-reads
them now and then, so a message lost to a reconnection is caught up.

Differences from the in-memory hub, kept simple on purpose:
- the JSON cap (`max_bytes`) applies to each session alone (413 `too_large`) and the session
  count is not capped: Redis's own `maxmemory` bounds what all sessions hold;
- `followers` in a read counts the followers of the replica that answers;
- on shutdown this replica's followers are dropped with close code 1012 (service restart), so
  they reconnect, to any replica; the sessions stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from blockprop.service.errors import ServiceError
from blockprop.service.sender import SendText, return_freed_memory
from blockprop.service.sessions import (
    Follower,
    Session,
    check_edit_token,
    json_size,
    stop_follower,
)
from blockprop.service.tokens import hash_token, new_edit_token

log = logging.getLogger(__name__)

PREFIX = "blockprop:session:"  # the key of a session's document, and its channel
CONTROL = "blockprop:sessions"  # always subscribed: keeps the pub/sub connection listening
RESTARTING = "the server is restarting: reconnect to follow on"


def _document(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "graph": s.graph,
        "view": s.view,
        "version": s.version,
        "graph_version": s.graph_version,
        "edit_hash": s.edit_hash,
        "created": s.created,
        "updated": s.updated,
    }


def _session(doc: dict[str, Any]) -> Session:
    s = Session(doc["graph"], doc["view"], doc["edit_hash"], session_id=doc["id"])
    s.version, s.graph_version = doc["version"], doc["graph_version"]
    s.created, s.updated = doc["created"], doc["updated"]
    return s


def _not_found(session_id: str) -> ServiceError:
    return ServiceError(404, "not_found", f"no live session with id {session_id!r}")


class RedisSessionHub:
    """The routes' session hub (same methods as `SessionHub`, awaited) over Redis."""

    def __init__(
        self,
        url: str,
        *,
        max_followers: int = 1000,
        ttl: float = 2 * 3600.0,
        max_bytes: int = 256 * 2**20,
        send_timeout: float = 5.0,
    ):
        import redis.asyncio as aioredis  # the `scale` extra

        self.redis = aioredis.from_url(url)
        self.sessions: dict[str, Session] = {}  # mirrors of the sessions followed here
        self.max_followers = max_followers
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.send_timeout = send_timeout
        self._pubsub: Any = None
        self._listener: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    @property
    def follower_count(self) -> int:
        return sum(len(s.followers) for s in self.sessions.values())

    def _check_size(self, size: int) -> None:
        if size > self.max_bytes:
            mb = 2**20
            raise ServiceError(
                413,
                "too_large",
                f"this session is {size / mb:.1f} MB of JSON; a session may hold "
                f"{self.max_bytes / mb:.1f} MB",
            )

    async def _load(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(PREFIX + session_id)
        return None if raw is None else orjson.loads(raw)

    # -- the teacher's side

    async def create(self, graph: dict[str, Any], view: dict[str, Any]) -> tuple[Session, str]:
        self._check_size(json_size(graph) + json_size(view))
        token = new_edit_token()
        session = Session(graph, view, hash_token(token))
        doc = orjson.dumps(_document(session))
        await self.redis.set(PREFIX + session.id, doc, px=self._ttl_ms, nx=True)
        return session, token

    async def get(self, session_id: str) -> Session:
        doc = await self._load(session_id)
        if doc is None:
            raise _not_found(session_id)
        mirror = self.sessions.get(session_id)
        if mirror is not None:  # followed here: the mirror, brought up to date, counts them
            self._apply(mirror, doc)
            return mirror
        return _session(doc)

    async def update(
        self,
        session_id: str,
        token: str | None,
        *,
        graph: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
    ) -> Session:
        from redis.exceptions import WatchError

        key = PREFIX + session_id
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:  # optimistic: retried when another replica changed it meanwhile
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise _not_found(session_id)
                    doc = orjson.loads(raw)
                    check_edit_token(doc["edit_hash"], token)
                    if graph is None and view is None:
                        break
                    self._check_size(
                        json_size(doc["graph"] if graph is None else graph)
                        + json_size(doc["view"] if view is None else view)
                    )
                    if graph is not None:
                        doc["graph"] = graph
                        doc["graph_version"] += 1
                    if view is not None:
                        doc["view"] = view
                    doc["version"] += 1
                    doc["updated"] = time.time()
                    message = doc if graph is not None else {**doc, "graph": None}
                    pipe.multi()
                    pipe.set(key, orjson.dumps(doc), px=self._ttl_ms)
                    pipe.publish(key, orjson.dumps(message))
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        mirror = self.sessions.get(session_id)
        if mirror is not None:
            self._apply(mirror, doc)
            return mirror
        return _session(doc)

    async def end(self, session_id: str, token: str | None) -> None:
        from redis.exceptions import WatchError

        key = PREFIX + session_id
        reason = "the teacher ended the session"
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise _not_found(session_id)
                    check_edit_token(orjson.loads(raw)["edit_hash"], token)
                    pipe.multi()
                    pipe.delete(key)
                    pipe.publish(key, orjson.dumps({"closed": reason}))
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        self._end_mirror(session_id, reason)
        return_freed_memory()

    # -- followers

    async def follow(self, session_id: str, send_text: SendText) -> Follower:
        if self.follower_count >= self.max_followers:
            raise ServiceError(
                429,
                "too_many_clients",
                f"{self.follower_count} followers are connected; the limit is {self.max_followers}",
            )
        mirror = self.sessions.get(session_id)
        if mirror is None:
            await self._subscribe(session_id)  # first, so no change falls between
            doc = await self._load(session_id)
            if doc is None:
                if session_id not in self.sessions:
                    await self._unsubscribe(session_id)
                raise _not_found(session_id)
            mirror = self.sessions.get(session_id)  # another follower may have made it
            if mirror is None:
                mirror = self.sessions[session_id] = _session(doc)
            else:
                self._apply(mirror, doc)
        await self.redis.pexpire(PREFIX + session_id, self._ttl_ms)
        follower = Follower(mirror, send_text, self.send_timeout)
        mirror.followers.add(follower)
        follower.task = asyncio.create_task(follower.run())
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep())
        return follower

    async def unfollow(self, follower: Follower) -> None:
        await stop_follower(follower)
        s = follower.session
        if not s.followers and self.sessions.get(s.id) is s:
            del self.sessions[s.id]
            with contextlib.suppress(Exception):
                await self._unsubscribe(s.id)
                if not s.closed:  # idle from now on: the full TTL again
                    await self.redis.pexpire(PREFIX + s.id, self._ttl_ms)

    # -- fan-out

    def _apply(self, s: Session, doc: dict[str, Any]) -> bool:
        """Bring a mirror to `doc` (a newer version only) and wake its followers. False when
        `doc` lacks a graph the mirror has not got (a message was missed: reload)."""
        if doc["version"] <= s.version:
            return True
        if doc["graph_version"] != s.graph_version:
            if doc.get("graph") is None:
                return False
            s.graph, s.graph_bytes = doc["graph"], json_size(doc["graph"])
        s.view, s.view_bytes = doc["view"], json_size(doc["view"])
        s.version, s.graph_version, s.updated = doc["version"], doc["graph_version"], doc["updated"]
        s._frames = {}
        s.touched = time.monotonic()
        for f in s.followers:
            f.notify()
        return True

    def _end_mirror(self, session_id: str, reason: str) -> None:
        s = self.sessions.get(session_id)
        if s is not None and not s.closed:
            s.closed_reason, s.closed, s._frames = reason, True, {}
            for f in s.followers:
                f.notify()

    async def _subscribe(self, session_id: str) -> None:
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            await self._pubsub.subscribe(CONTROL)
            self._listener = asyncio.create_task(self._listen())
        await self._pubsub.subscribe(PREFIX + session_id)

    async def _unsubscribe(self, session_id: str) -> None:
        if self._pubsub is not None:
            await self._pubsub.unsubscribe(PREFIX + session_id)

    async def _listen(self) -> None:
        """The one pub/sub connection of this replica: each message to the mirror's followers."""
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
                if message is None or message.get("type") != "message":
                    continue
                channel = message["channel"].decode()
                session_id = channel.removeprefix(PREFIX)
                mirror = self.sessions.get(session_id)
                if mirror is None:
                    continue
                doc = orjson.loads(message["data"])
                if "closed" in doc:
                    self._end_mirror(session_id, doc["closed"])
                elif not self._apply(mirror, doc):
                    await self._refresh(mirror)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: redis-py reconnects and resubscribes
                log.warning("session pub/sub: retrying", exc_info=True)
                await asyncio.sleep(1.0)

    async def _refresh(self, mirror: Session) -> None:
        """Re-read a mirror's session: up to date, and ended when it has gone."""
        doc = await self._load(mirror.id)
        if doc is None:
            self._end_mirror(mirror.id, "the session has ended")
        else:
            self._apply(mirror, doc)

    async def _keep(self) -> None:
        """While sessions are followed here: renew their TTL and re-read them."""
        interval = max(0.05, min(self.ttl / 3, 10.0))
        while self.sessions:
            await asyncio.sleep(interval)
            for mirror in list(self.sessions.values()):
                if mirror.closed or not mirror.followers:
                    continue
                try:
                    await self.redis.pexpire(PREFIX + mirror.id, self._ttl_ms)
                    await self._refresh(mirror)
                except Exception:
                    log.warning("session keeper: retrying", exc_info=True)

    async def shutdown(self) -> None:
        """Drop this replica's followers (close code 1012: reconnect); the sessions stay."""
        for task in (self._keeper, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        followers = [f for s in self.sessions.values() for f in s.followers]
        for f in followers:
            f.drop(RESTARTING)
        for f in followers:
            await stop_follower(f)
        self.sessions.clear()
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await self._pubsub.aclose()
            await self.redis.aclose()
