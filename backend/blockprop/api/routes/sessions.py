"""Classroom sessions: a teacher broadcasts a graph and where they are in it.

- `POST /api/sessions` starts one and returns its edit token; `PATCH` changes the graph or
  the view (the explain step, gradient-check badges, the run) and `DELETE` ends it: both
  need the token (`X-Edit-Token`). `GET` reads it with the id alone.
- `WS /api/sessions/{id}/stream` follows it, read-only: a `hello` with the whole session,
  then a `state` frame on every change (with the graph only when the graph changed), and
  `closed` (with a `reason`) when the teacher ends it or it expires. Messages from followers
  are ignored.
- Memory is bounded: the sessions together hold at most `BLOCKPROP_MAX_SESSION_BYTES` of JSON
  (413 `too_large` for one bigger than that, 429 `too_many_sessions` with `Retry-After` when it
  does not fit beside the others), and a session unchanged and unfollowed for
  `BLOCKPROP_SESSION_IDLE_SECONDS` expires (404 afterwards).
- With `BLOCKPROP_REDIS_URL` the sessions live in Redis and every replica serves every
  session's followers (`service/sessions_redis.py`, where the differences are listed).

Origin and access-token checks are the server's (`api/security.py`), as everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Response, WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection

from blockprop.api.deps import EditToken, SettingsDep, graph_doc
from blockprop.api.routes.stream import _deny
from blockprop.api.schemas import (
    SessionCreate,
    SessionCreated,
    SessionRead,
    SessionUpdate,
    errors,
)
from blockprop.api.schemas.common import created, locate
from blockprop.service.errors import ServiceError
from blockprop.service.sessions import SessionHub
from blockprop.service.sessions_redis import RESTARTING, RedisSessionHub

#: the answer to anything a follower sends (the session stream has no client messages)
FOLLOWERS_LISTEN = orjson.dumps(
    {
        "type": "error",
        "of": None,
        "error": {
            "code": "invalid_message",
            "message": "a session's followers only listen: this stream takes no messages",
            "nodes": [],
            "port": None,
        },
    }
).decode()

router = APIRouter(tags=["classroom"])


def get_sessions(conn: HTTPConnection) -> SessionHub | RedisSessionHub:
    """The app's session hub, made on first use (overridable in tests): in memory, or in
    Redis when `BLOCKPROP_REDIS_URL` is set."""
    hub = getattr(conn.app.state, "sessions", None)
    if hub is None:
        settings = conn.app.state.settings
        limits = {
            "max_followers": settings.max_ws_clients,
            "ttl": settings.session_idle_seconds,
            "max_bytes": settings.max_session_bytes,
            "send_timeout": settings.ws_send_timeout,
        }
        if settings.redis_url:
            hub = RedisSessionHub(settings.redis_url, **limits)
        else:
            hub = SessionHub(**limits)
        conn.app.state.sessions = hub
    return hub


SessionsDep = Annotated[SessionHub | RedisSessionHub, Depends(get_sessions)]


async def _done(result: Any) -> Any:
    """The result of a hub method: the Redis hub's are awaited, the in-memory hub's are not."""
    return await result if inspect.isawaitable(result) else result


def _view(model: Any) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionCreated,
    responses={
        **errors(413, 422, 429),
        **created(
            "session_id",
            {
                "read": ("get", "/api/sessions/{session_id}", False),
                "update": ("patch", "/api/sessions/{session_id}", True),
                "delete": ("delete", "/api/sessions/{session_id}", True),
            },
        ),
    },
)
async def create_session(
    body: SessionCreate, settings: SettingsDep, hub: SessionsDep, response: Response
) -> dict[str, Any]:
    """Start broadcasting a graph. Share `follow_path` with students; keep `edit_token`."""
    session, token = await _done(hub.create(graph_doc(body.graph, settings), _view(body.view)))
    locate(response, f"/api/sessions/{session.id}")
    return {**session.read(), "edit_token": token, "follow_path": f"/follow/{session.id}"}


@router.get("/sessions/{session_id}", response_model=SessionRead, responses=errors(404))
async def read_session(session_id: str, hub: SessionsDep) -> dict[str, Any]:
    """The session now: graph, view, versions and how many follow it."""
    return (await _done(hub.get(session_id))).read()


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionRead,
    responses=errors(403, 404, 413, 422, 429),
)
async def update_session(
    session_id: str,
    body: SessionUpdate,
    settings: SettingsDep,
    hub: SessionsDep,
    token: EditToken,
) -> dict[str, Any]:
    """Change the graph and/or the view; every follower gets the new state at once."""
    graph = graph_doc(body.graph, settings) if body.graph is not None else None
    view = _view(body.view) if body.view is not None else None
    return (await _done(hub.update(session_id, token, graph=graph, view=view))).read()


@router.delete("/sessions/{session_id}", status_code=204, responses=errors(403, 404))
async def end_session(session_id: str, hub: SessionsDep, token: EditToken) -> Response:
    """End the broadcast: followers get `closed` (they keep what they see and can fork it)."""
    await _done(hub.end(session_id, token))
    return Response(status_code=204)


@router.websocket("/sessions/{session_id}/stream")
async def follow_session(ws: WebSocket, session_id: str, hub: SessionsDep) -> None:
    try:
        await _done(hub.get(session_id))
    except ServiceError as e:
        await _deny(ws, e.status, e.code, e.message)
        return
    if hub.follower_count >= hub.max_followers:  # refused at the handshake: a 429, Retry-After
        message = f"{hub.follower_count} followers are connected; the limit is {hub.max_followers}"
        await _deny(ws, 429, "too_many_clients", message)
        return
    await ws.accept()
    try:
        follower = await _done(hub.follow(session_id, ws.send_text))
    except ServiceError as e:
        with contextlib.suppress(Exception):
            await ws.close(code=4000 + e.status, reason=e.message[:120])
        return

    async def drain() -> None:  # followers only listen; this notices when they leave
        while True:
            try:
                await ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            except KeyError:  # a binary frame
                pass
            # whatever a follower sends is answered, not silently dropped
            follower.reply(FOLLOWERS_LISTEN)

    receiver = asyncio.create_task(drain())
    try:
        assert follower.task is not None
        await asyncio.wait({receiver, follower.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
        reason = follower.drop_reason
        await hub.unfollow(follower)
        code = 1000 if reason in (None, "the session has ended") else 1008
        if reason == RESTARTING:  # the Redis hub's sessions outlive this server: reconnect
            code = 1012
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=code, reason=(reason or "")[:120]), 1.0)
