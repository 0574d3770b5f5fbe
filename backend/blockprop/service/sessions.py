"""Classroom sessions: a teacher broadcasts a graph and a position in it to followers.

A session holds what students need to mirror the teacher: the graph document, a small
`view` (the explain sample and step, gradient-check results, the run being trained) and two
version counters. The teacher changes it with the session's edit token; followers watch it
over a WebSocket and can never change it.

Sessions live in memory: they are live broadcasts, not documents (a follower who wants to
keep the graph forks it into a stored graph). An idle session expires after `ttl` seconds.

Fan-out is latest-wins, like a run's snapshots: every update is serialised once (two frames:
with and without the graph) and each follower's sender sends the newest one when it can. A
slow follower skips intermediate steps and never delays the teacher or the other followers;
one that accepts nothing for `send_timeout` seconds is dropped (it may reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import orjson

from blockprop.service.errors import ServiceError
from blockprop.service.sender import Sender, SendText
from blockprop.service.tokens import hash_token, new_edit_token, new_id, token_matches


class Follower(Sender):
    """One WebSocket following a session: a sender task that sends the newest state."""

    def __init__(self, session: Session, send_text: SendText, send_timeout: float):
        super().__init__(send_text, send_timeout)
        self.session = session
        self.sent_version = -1
        self.sent_graph_version = -1
        self.said_hello = False

    async def _serve(self) -> None:
        s = self.session
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
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


class Session:
    """One broadcast. `version` counts every change; `graph_version` the graph's changes."""

    def __init__(self, graph: dict[str, Any], view: dict[str, Any], edit_hash: str):
        now = time.time()
        self.id = new_id()
        self.edit_hash = edit_hash
        self.graph = graph
        self.view = view
        self.version = 1
        self.graph_version = 1
        self.created = now
        self.updated = now
        self.touched = time.monotonic()
        self.followers: set[Follower] = set()
        self.closed = False
        self._frames: dict[str, str] = {}

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
        key = f"{kind}:{self.version}"
        text = self._frames.get(key)
        if text is None:
            if len(self._frames) > 8:
                self._frames.clear()
            text = self._frames[key] = orjson.dumps(build()).decode()
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
        return orjson.dumps({"type": "closed", "reason": "the teacher ended the session"}).decode()

    def _publish(self) -> None:
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
        ttl: float = 12 * 3600.0,
        send_timeout: float = 5.0,
    ):
        self.sessions: dict[str, Session] = {}
        self.max_sessions = max_sessions
        self.max_followers = max_followers
        self.ttl = ttl
        self.send_timeout = send_timeout

    # -- the teacher's side (every change needs the edit token)

    def create(self, graph: dict[str, Any], view: dict[str, Any]) -> tuple[Session, str]:
        self.expire()
        if len(self.sessions) >= self.max_sessions:
            raise ServiceError(
                429,
                "too_many_sessions",
                f"{len(self.sessions)} sessions are live; the limit is {self.max_sessions}",
            )
        token = new_edit_token()
        session = Session(graph, view, hash_token(token))
        self.sessions[session.id] = session
        return session, token

    def get(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.closed or self._expired(session):
            if session is not None:
                self._end(session)
            raise ServiceError(404, "not_found", f"no live session with id {session_id!r}")
        return session

    def _check(self, session: Session, token: str | None) -> None:
        if not token:
            raise ServiceError(
                403,
                "edit_token_required",
                "changing this session needs its edit token in the X-Edit-Token header",
            )
        if not token_matches(token, session.edit_hash):
            raise ServiceError(403, "bad_edit_token", "wrong edit token for this session")

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
        if graph is not None:
            session.graph = graph
            session.graph_version += 1
        if view is not None:
            session.view = view
        session.version += 1
        session._publish()
        return session

    def end(self, session_id: str, token: str | None) -> None:
        session = self.get(session_id)
        self._check(session, token)
        self._end(session)

    def _end(self, session: Session) -> None:
        session.closed = True
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
        follower.session.followers.discard(follower)
        follower.closed = True
        task = follower.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # -- housekeeping

    def _expired(self, session: Session) -> bool:
        return not session.followers and time.monotonic() - session.touched > self.ttl

    def expire(self) -> None:
        for session in [s for s in self.sessions.values() if self._expired(s)]:
            self._end(session)

    async def shutdown(self) -> None:
        followers = [f for s in self.sessions.values() for f in s.followers]
        for session in list(self.sessions.values()):
            self._end(session)
        for f in followers:
            await self.unfollow(f)
