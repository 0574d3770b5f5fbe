"""WS /api/runs/{id}/stream: the live stream of a run (DESIGN "Stream").

Query parameters: `since` (replay every metrics batch after this seq first), `rate`
(snapshots per second, default 10; 0 for none), `edit_token` (allows control messages; or
send `{"type": "auth", "edit_token": ...}`), and `token` (the server's access token, when set).

Server → client frames: `hello`, `metrics`, `snapshot`, `boundary`, `status`, `ack`, `auth`,
`error`. Client → server: `hello {since}`, `subscribe {nodes?, rate?, boundary?}`,
`auth {edit_token}`, `pause`, `resume`, `step {n}`, `stop`, `set {lr, momentum, …}`, each with
an optional `id` that its `ack` (or `error`) carries back. The messages are the pydantic models
of `schemas/stream.py`, published at /asyncapi.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from blockprop.api.deps import RunsDep, SettingsDep, StoreDep
from blockprop.api.routes.runs import run_read
from blockprop.api.schemas import RunUpdate
from blockprop.api.schemas.stream import CLIENT_MESSAGES
from blockprop.api.security import EDIT_HEADER
from blockprop.service.errors import ServiceError
from blockprop.service.runs import RunManager
from blockprop.service.store import Store
from blockprop.service.stream import Channel, Client
from blockprop.service.tokens import token_matches
from blockprop.settings import Settings

router = APIRouter(tags=["runs"])


def _error(
    code: str, message: str, of: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "error",
        "of": of,
        **_id(request_id),
        "error": {"code": code, "message": message, "nodes": [], "port": None},
    }


def _number(value: str | None, default: float, lo: float, hi: float) -> float:
    try:
        v = float(value) if value is not None else default
    except ValueError:
        return default
    return min(hi, max(lo, v)) if math.isfinite(v) else default


async def _deny(ws: WebSocket, status: int, code: str, message: str) -> None:
    from blockprop.api.errors import error_response

    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(error_response(status, code, message))
    else:
        await ws.close(code=4000 + status, reason=message[:120])


@router.websocket("/runs/{run_id}/stream")
async def stream(
    ws: WebSocket, run_id: str, settings: SettingsDep, store: StoreDep, runs: RunsDep
) -> None:
    row = await asyncio.to_thread(store.get_run, run_id)
    if row is None:
        await _deny(ws, 404, "not_found", f"no run with id {run_id!r}")
        return
    watching = sum(len(ch.clients) for ch in runs.hub.channels.values())
    if watching >= settings.max_ws_clients:
        message = f"{watching} clients are watching runs; the limit is {settings.max_ws_clients}"
        await _deny(ws, 429, "too_many_clients", message)
        return
    q = ws.query_params
    edit_token = q.get("edit_token") or ws.headers.get(EDIT_HEADER)
    can_control = token_matches(edit_token, row.edit_hash)
    since_raw = q.get("since")
    since = None
    if since_raw is not None:  # a seq, as GET …/metrics?since= takes it: 422 otherwise
        if not (since_raw.isascii() and since_raw.isdigit() and int(since_raw) < 2**63):
            message = f"query.since: a seq number from 0 to 2^63-1, not {since_raw[:40]!r}"
            await _deny(ws, 422, "invalid_request", message)
            return
        since = int(since_raw)
    rate = _number(q.get("rate"), settings.snapshot_rate, 0, settings.max_snapshot_rate)
    await ws.accept()

    channel = runs.hub.channel(run_id, row.last_seq)
    await runs.prime(channel, row)

    state = {"can_control": can_control}

    async def hello() -> dict[str, Any]:
        current = await asyncio.to_thread(store.get_run, run_id)
        info = run_read(current or row, runs)
        return {
            "run_id": run_id,
            "run": info,
            "status": info["status"],
            "reason": info["reason"],
            "step": info["step"],
            "can_control": state["can_control"],
            "subscription": {
                "rate": client.rate,
                "nodes": client.nodes,
                "boundary": client.boundary,
            },
        }

    async def send_text(text: str) -> None:
        await ws.send_text(text)

    client = Client(
        channel, send_text, hello, since=since, rate=rate, send_timeout=settings.ws_send_timeout
    )
    channel.add(client)
    receiver = asyncio.create_task(_receive(ws, client, channel, runs, store, settings, state))
    try:
        assert client.task is not None
        done, _ = await asyncio.wait({receiver, client.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
        reason = client.drop_reason
        channel.remove(client)
        if client.task is not None and not client.task.done():
            client.task.cancel()
            with contextlib.suppress(BaseException):
                await client.task
        runs.hub.release(run_id)
        code = 1000 if reason in (None, "closed") else 1008
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=code, reason=(reason or "")[:120]), 1.0)


async def _receive(
    ws: WebSocket,
    client: Client,
    channel: Channel,
    runs: RunManager,
    store: Store,
    settings: Settings,
    state: dict[str, Any],
) -> None:
    """Each client message is validated by the `ClientMessage` models (the ones the AsyncAPI
    document publishes); a refused one gets an `error` frame, a done control message an
    `ack`, both carrying the message's `id`. The stream goes on either way."""
    while True:
        try:
            text = await ws.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return
        except KeyError:  # a binary frame
            client.push(_error("invalid_message", "send JSON text frames"))
            continue
        if len(text) > settings.max_ws_message_bytes:
            client.push(_error("too_large", "message too large"))
            continue
        try:
            msg = CLIENT_MESSAGES.validate_json(text)
        except ValidationError as e:
            client.push(_refused(text, e))
            continue
        try:
            answer = await _handle(msg, client, channel, runs, store, settings, state)
        except ServiceError as e:
            client.push({"type": "error", "of": msg.type, **_id(msg.id), **e.body()})
        except (ValueError, TypeError) as e:
            client.push(_error("invalid_message", f"{msg.type}: {e}", msg.type, msg.id))
        else:
            if answer is not None:
                client.push({**answer, **_id(msg.id)})


def _id(request_id: str | None) -> dict[str, str]:
    return {"id": request_id} if request_id is not None else {}


def _refused(text: str, e: ValidationError) -> dict[str, Any]:
    """The error frame for a message the models refuse, naming its type, field and id when
    it has them."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return _error("invalid_message", 'messages are JSON objects with a "type"')
    kind = raw["type"]
    rid = raw.get("id") if isinstance(raw.get("id"), str) else None
    first = e.errors()[0]
    if first["type"] == "union_tag_invalid":
        known = first.get("ctx", {}).get("expected_tags", "")
        return _error("invalid_message", f"unknown message type {kind!r} ({known})", kind, rid)
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or kind
    if first["type"] == "extra_forbidden":
        why = f"unknown field {field!r}"
    else:
        why = f"{field}: {first.get('msg')}"
    return _error("invalid_message", f"{kind}: {why}", kind, rid)


async def _handle(
    msg: Any,
    client: Client,
    channel: Channel,
    runs: RunManager,
    store: Store,
    settings: Settings,
    state: dict[str, Any],
) -> dict[str, Any] | None:
    """Do what a validated message asks; returns the frame that answers it: an `ack` (for
    `set` with the settings as they now are), `auth`, or None for `hello` (the fresh hello
    frame answers it)."""
    run_id = channel.run_id
    if msg.type == "hello":
        client.resync(msg.since)
        return None
    if msg.type == "subscribe":
        rate = msg.rate if msg.rate is not None else (client.rate or settings.snapshot_rate)
        client.rate = min(float(rate), settings.max_snapshot_rate)
        client.nodes = msg.nodes or None
        client.boundary = msg.boundary
        client.sent_snapshot = client.sent_boundary = -1
        channel.update_subscription()
        client.notify()
        return {"type": "ack", "of": msg.type}
    if msg.type == "auth":
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is None or not token_matches(msg.edit_token, row.edit_hash):
            raise ServiceError(403, "bad_edit_token", "wrong edit token for this run")
        state["can_control"] = True
        return {"type": "auth", "of": msg.type, "can_control": True}
    if not state["can_control"]:
        raise ServiceError(
            403,
            "edit_token_required",
            "controlling this run needs its edit token (?edit_token= or an auth message)",
        )
    if msg.type == "pause":
        await runs.pause(run_id)
    elif msg.type == "resume":
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is not None:
            await runs.resume(row)
    elif msg.type == "step":
        await runs.step(run_id, msg.n)
    elif msg.type == "stop":
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is not None:
            await runs.stop_run(row)
    elif msg.type == "set":
        values = msg.model_dump(exclude_none=True, exclude={"type", "id"})
        if not values:
            raise ValueError(f"nothing to change: give one of {', '.join(RunUpdate.model_fields)}")
        await runs.set(run_id, values)
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is not None:
            await asyncio.to_thread(store.update_run, run_id, config={**row.config, **values})
        return {"type": "ack", "of": msg.type, "values": values}
    return {"type": "ack", "of": msg.type}
