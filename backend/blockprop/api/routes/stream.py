"""WS /api/runs/{id}/stream: the live stream of a run (DESIGN "Stream").

Query parameters: `since` (replay every metrics batch after this seq first), `rate`
(snapshots per second, default 10; 0 for none), `edit_token` (allows control messages; or
send `{"type": "auth", "edit_token": ...}`), and `token` (the server's access token, when set).

Server → client frames: `hello`, `metrics`, `snapshot`, `boundary`, `status`, `error`.
Client → server: `hello {since}`, `subscribe {nodes?, rate?, boundary?}`, `auth {edit_token}`,
`pause`, `resume`, `step {n}`, `stop`, `set {lr, momentum, l1, l2, speed}`.
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
from blockprop.api.security import EDIT_HEADER
from blockprop.service.errors import ServiceError
from blockprop.service.runs import RunManager
from blockprop.service.store import Store
from blockprop.service.stream import Channel, Client
from blockprop.service.tokens import token_matches
from blockprop.settings import Settings

router = APIRouter(tags=["runs"])

_CONTROL = {"pause", "resume", "step", "stop", "set"}


def _error(code: str, message: str, of: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "of": of,
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
            msg = orjson.loads(text)
            kind = msg["type"]
            if not isinstance(kind, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            client.push(_error("invalid_message", 'messages are JSON objects with a "type"'))
            continue
        try:
            await _handle(msg, kind, client, channel, runs, store, settings, state)
        except ServiceError as e:
            client.push({"type": "error", "of": kind, **e.body()})
        except (ValueError, TypeError) as e:
            client.push(_error("invalid_message", f"{kind}: {e}", kind))


async def _handle(
    msg: dict[str, Any],
    kind: str,
    client: Client,
    channel: Channel,
    runs: RunManager,
    store: Store,
    settings: Settings,
    state: dict[str, Any],
) -> None:
    run_id = channel.run_id
    if kind == "hello":
        since = msg.get("since")
        if since is not None and (not isinstance(since, int) or since < 0):
            raise ValueError("since must be a seq number ≥ 0")
        client.resync(since)
        return
    if kind == "subscribe":
        rate = msg.get("rate", client.rate or settings.snapshot_rate)
        nodes = msg.get("nodes")
        if not isinstance(rate, int | float) or not math.isfinite(rate) or rate < 0:
            raise ValueError("rate must be a number ≥ 0 (snapshots per second)")
        if nodes is not None and (
            not isinstance(nodes, list)
            or len(nodes) > 10_000
            or not all(isinstance(n, str) for n in nodes)
        ):
            raise ValueError("nodes must be a list of node ids, or null for all")
        client.rate = min(float(rate), settings.max_snapshot_rate)
        client.nodes = nodes or None
        client.boundary = bool(msg.get("boundary", True))
        client.sent_snapshot = client.sent_boundary = -1
        channel.update_subscription()
        client.notify()
        return
    if kind == "auth":
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is None or not token_matches(msg.get("edit_token"), row.edit_hash):
            raise ServiceError(403, "bad_edit_token", "wrong edit token for this run")
        state["can_control"] = True
        client.push({"type": "auth", "can_control": True})
        return
    if kind not in _CONTROL:
        raise ValueError(f"unknown message type {kind!r}")
    if not state["can_control"]:
        raise ServiceError(
            403,
            "edit_token_required",
            "controlling this run needs its edit token (?edit_token= or an auth message)",
        )
    if kind == "pause":
        await runs.pause(run_id)
    elif kind == "resume":
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is not None:
            await runs.resume(row)
    elif kind == "step":
        n = msg.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1_000_000:
            raise ValueError("n must be an integer from 1 to 1000000")
        await runs.step(run_id, n)
    elif kind == "stop":
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is not None:
            await runs.stop_run(row)
    elif kind == "set":
        try:
            update = RunUpdate.model_validate({k: v for k, v in msg.items() if k != "type"})
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ()))
            raise ValueError(f"{field}: {first.get('msg')}") from None
        values = update.model_dump(exclude_none=True)
        if not values:
            raise ValueError("nothing to change: give lr, momentum, l1, l2 or speed")
        await runs.set(run_id, values)
        row = await asyncio.to_thread(store.get_run, run_id)
        if row is not None:
            await asyncio.to_thread(store.update_run, run_id, config={**row.config, **values})
        client.push({"type": "ack", "of": "set", "values": values})
