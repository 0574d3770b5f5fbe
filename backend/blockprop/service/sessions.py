"""Classroom sessions: a teacher broadcasts a graph and a position in it to followers.

A session holds what students need to mirror the teacher: the graph document, a small
`view` (the explain sample and step, gradient-check results, the run being trained) and two
version counters. The teacher changes it with the session's edit token; followers watch it
over a WebSocket and can never change it.

Sessions live in memory here (with `BLOCKPROP_REDIS_URL`, in Redis instead, shared by every
replica: `sessions_redis.py`): they are live broadcasts, not documents (a follower who wants
to keep the graph forks it into a stored graph). So that memory is bounded:

- the sessions together hold at most `max_bytes` of JSON (graph + view, as serialised): a
  session alone larger than that is refused with 413 `too_large`; one that does not fit with
  the others with 429 `too_many_sessions` and `Retry-After` (room comes back as sessions end);
- a session nobody changed and nobody followed for `ttl` seconds expires: a sweeper task ends
  it on time even when no request comes, and its memory goes back to the system.

Fan-out is latest-wins, like a run's snapshots: every update is serialised once (two frames:
with and without the graph) and each follower's sender sends the newest one when it can. A
slow follower skips intermediate steps and never delays the teacher or the other followers;
one that accepts nothing for `send_timeout` seconds is dropped (it may reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import orjson

from blockprop.service.errors import ServiceError
from blockprop.service.sender import Sender, SendText, return_freed_memory
from blockprop.service.tokens import hash_token, new_edit_token, new_id, token_matches


class Follower(Sender):
    """One WebSocket following a session: a sender task that sends the newest state."""

    def __init__(self, session: Session, send_text: SendText, send_timeout: float):
        super().__init__(send_text, send_timeout)
        self.session = session
        self.sent_version = -1
        self.sent_graph_version = -1
        self.said_hello = False
        #: answers to what the follower sent (error frames), sent before the next state
        self.replies: list[str] = []

    def reply(self, frame: str) -> None:
        """Queue a frame answering the follower (a few at most: a flood keeps the last)."""
        self.replies = [*self.replies[-7:], frame]
        self.wake.set()

    async def _serve(self) -> None:
        s = self.session
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            while self.replies and not self.closed:
                await self._send(self.replies.pop(0))
            if s.closed:
                await self._send(s.closed_frame())
                self.drop_reason = "the session has ended"
                self.closed = True
                break
            if not self.said_hello:
                self.said_hello = True
                self.sent_version, self.sent_graph_version = s.version, s.graph_version
                await self._send(s.hello_frame())
                continue
            if self.sent_version != s.version:
                with_graph = self.sent_graph_version != s.graph_version
                self.sent_version, self.sent_graph_version = s.version, s.graph_version
                await self._send(s.state_frame(with_graph))


async def stop_follower(follower: Follower) -> None:
    """Take a follower off its session and stop its sender task."""
    session = follower.session
    if follower in session.followers:
        session.followers.discard(follower)
        if not session.followers:
            session.touched = time.monotonic()  # idle from now on
    follower.closed = True
    task = follower.task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


class RetryLater(ServiceError):
    """429: full for now; `Retry-After` says when room may come back."""

    def __init__(self, code: str, message: str, retry_after: float):
        super().__init__(429, code, message)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


def check_edit_token(edit_hash: str, token: str | None) -> None:
    """403 unless `token` is the session's edit token."""
    if not token:
        raise ServiceError(
            403,
            "edit_token_required",
            "changing this session needs its edit token in the X-Edit-Token header",
        )
    if not token_matches(token, edit_hash):
        raise ServiceError(403, "bad_edit_token", "wrong edit token for this session")


def json_size(doc: dict[str, Any]) -> int:
    return len(orjson.dumps(doc))


class Session:
    """One broadcast. `version` counts every change; `graph_version` the graph's changes."""

    def __init__(
        self,
        graph: dict[str, Any],
        view: dict[str, Any],
        edit_hash: str,
        session_id: str | None = None,
    ):
        now = time.time()
        self.id = session_id or new_id()
        self.edit_hash = edit_hash
        self.graph = graph
        self.view = view
        # the JSON sizes of graph and view: what the sessions' memory cap counts
        self.graph_bytes = json_size(graph)
        self.view_bytes = json_size(view)
        self.version = 1
        self.graph_version = 1
        self.created = now
        self.updated = now
        self.touched = time.monotonic()
        self.followers: set[Follower] = set()
        self.closed = False
        self.closed_reason = "the teacher ended the session"
        self._frames: dict[str, str] = {}

    @property
    def size(self) -> int:
        return self.graph_bytes + self.view_bytes

    def read(self) -> dict[str, Any]:
        """The session as `GET /api/sessions/{id}` answers it."""
        return {
            "id": self.id,
            "graph": self.graph,
            "view": self.view,
            "version": self.version,
            "graph_version": self.graph_version,
            "followers": len(self.followers),
            "created": self.created,
            "updated": self.updated,
        }

    # -- frames, serialised once per version

    def _frame(self, kind: str, build: Callable[[], dict[str, Any]]) -> str:
        # only the current version's frames are kept (`_publish` drops the older ones)
        text = self._frames.get(kind)
        if text is None:
            text = self._frames[kind] = orjson.dumps(build()).decode()
        return text

    def hello_frame(self) -> str:
        return self._frame("hello", lambda: {"type": "hello", "session": self.read()})

    def state_frame(self, with_graph: bool) -> str:
        def build() -> dict[str, Any]:
            frame = {
                "type": "state",
                "version": self.version,
                "graph_version": self.graph_version,
                "view": self.view,
                "followers": len(self.followers),
                "updated": self.updated,
            }
            if with_graph:
                frame["graph"] = self.graph
            return frame

        return self._frame("full" if with_graph else "view", build)

    def closed_frame(self) -> str:
        return orjson.dumps({"type": "closed", "reason": self.closed_reason}).decode()

    def _publish(self) -> None:
        self._frames = {}
        self.updated = time.time()
        self.touched = time.monotonic()
        for f in self.followers:
            f.notify()


class SessionHub:
    """Every live session of this server, with limits on sessions and followers."""

    def __init__(
        self,
        *,
        max_sessions: int = 200,
        max_followers: int = 1000,
        ttl: float = 2 * 3600.0,
        max_bytes: int = 256 * 2**20,
        send_timeout: float = 5.0,
    ):
        self.sessions: dict[str, Session] = {}
        self.max_sessions = max_sessions
        self.max_followers = max_followers
        self.ttl = ttl  # seconds a session may go unchanged and unfollowed
        self.max_bytes = max_bytes  # the JSON of every session together
        self.send_timeout = send_timeout
        self._sweeper: asyncio.Task | None = None

    @property
    def used_bytes(self) -> int:
        return sum(s.size for s in self.sessions.values())

    # -- the teacher's side (every change needs the edit token)

    def create(self, graph: dict[str, Any], view: dict[str, Any]) -> tuple[Session, str]:
        self.expire()
        if len(self.sessions) >= self.max_sessions:
            raise RetryLater(
                "too_many_sessions",
                f"{len(self.sessions)} sessions are live; the limit is {self.max_sessions}",
                self._room_in(),
            )
        token = new_edit_token()
        session = Session(graph, view, hash_token(token))
        self._check_room(session.size, 0)
        self.sessions[session.id] = session
        self._start_sweeper()
        return session, token

    def _check_room(self, size: int, replaced: int) -> None:
        """Refuse a session of `size` bytes (replacing one of `replaced` bytes) beyond the cap."""
        mb = 2**20
        if size > self.max_bytes:
            raise ServiceError(
                413,
                "too_large",
                f"this session is {size / mb:.1f} MB of JSON; sessions may hold "
                f"{self.max_bytes / mb:.1f} MB in all",
            )
        used = self.used_bytes - replaced
        if used + size > self.max_bytes:
            raise RetryLater(
                "too_many_sessions",
                f"the live sessions hold {used / mb:.1f} MB of the {self.max_bytes / mb:.1f} MB "
                f"they may; this one needs {size / mb:.1f} MB: retry when some have ended",
                self._room_in(),
            )

    def _room_in(self) -> float:
        """Seconds until the next session may expire (a full server's Retry-After): at most a
        minute, since teachers also end sessions at any time."""
        return min(60.0, self._next_expiry_in())

    def get(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.closed or self._expired(session):
            if session is not None:
                self._end(session)
            raise ServiceError(404, "not_found", f"no live session with id {session_id!r}")
        return session

    def _check(self, session: Session, token: str | None) -> None:
        check_edit_token(session.edit_hash, token)

    def update(
        self,
        session_id: str,
        token: str | None,
        *,
        graph: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
    ) -> Session:
        session = self.get(session_id)
        self._check(session, token)
        if graph is None and view is None:
            return session
        graph_bytes = session.graph_bytes if graph is None else json_size(graph)
        view_bytes = session.view_bytes if view is None else json_size(view)
        self._check_room(graph_bytes + view_bytes, session.size)
        if graph is not None:
            session.graph, session.graph_bytes = graph, graph_bytes
            session.graph_version += 1
        if view is not None:
            session.view, session.view_bytes = view, view_bytes
        session.version += 1
        session._publish()
        return session

    def end(self, session_id: str, token: str | None) -> None:
        session = self.get(session_id)
        self._check(session, token)
        self._end(session)
        return_freed_memory()

    def _end(self, session: Session, reason: str | None = None) -> None:
        if reason is not None:
            session.closed_reason = reason
        session.closed = True
        session._frames = {}
        self.sessions.pop(session.id, None)
        for f in session.followers:
            f.notify()

    # -- followers

    @property
    def follower_count(self) -> int:
        return sum(len(s.followers) for s in self.sessions.values())

    def follow(self, session_id: str, send_text: SendText) -> Follower:
        session = self.get(session_id)
        if self.follower_count >= self.max_followers:
            raise ServiceError(
                429,
                "too_many_clients",
                f"{self.follower_count} followers are connected; the limit is {self.max_followers}",
            )
        follower = Follower(session, send_text, self.send_timeout)
        session.followers.add(follower)
        follower.task = asyncio.create_task(follower.run())
        return follower

    async def unfollow(self, follower: Follower) -> None:
        await stop_follower(follower)

    # -- housekeeping

    def _expired(self, session: Session) -> bool:
        return not session.followers and time.monotonic() - session.touched > self.ttl

    def expire(self) -> None:
        expired = [s for s in self.sessions.values() if self._expired(s)]
        for session in expired:
            idle = f"{self.ttl:g} s" if self.ttl < 120 else f"{self.ttl / 60:g} min"
            self._end(session, f"the session expired: nobody changed or followed it for {idle}")
        if expired:
            return_freed_memory()

    def _next_expiry_in(self) -> float:
        """Seconds until the first session could expire. Deadlines only ever move later (an
        update or a follower leaving restarts the clock), so sleeping this long misses none."""
        now = time.monotonic()
        waits = [s.touched + self.ttl - now for s in self.sessions.values() if not s.followers]
        return max(0.0, min(waits, default=self.ttl))

    def _start_sweeper(self) -> None:
        if self._sweeper is not None and not self._sweeper.done():
            return
        try:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        except RuntimeError:  # no event loop (a script): expiry happens on the next request
            self._sweeper = None

    async def _sweep(self) -> None:
        """Expire idle sessions on time, even when no request comes; ends with the last one."""
        while self.sessions:
            self.expire()
            # a little past the deadline, so the session is surely over it
            await asyncio.sleep(self._next_expiry_in() + 0.01)

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(BaseException):
                await self._sweeper
        followers = [f for s in self.sessions.values() for f in s.followers]
        for session in list(self.sessions.values()):
            self._end(session, "the server is shutting down")
        for f in followers:
            await self.unfollow(f)
