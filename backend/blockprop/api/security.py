"""Safe by default: access token, Host and Origin checks, body caps, JSON depth, edit tokens.

`Guard` is a plain ASGI middleware in front of everything (HTTP and WebSocket):

- Host: without an access token the server only answers to loopback names (and the configured
  host and allowed origins' hosts), so DNS rebinding cannot turn a foreign page into a client.
- Access token (`Settings.token`): every request needs it except `/api/health` (for probes):
  ``Authorization: Bearer <token>``, ``?token=<token>`` (which also sets an HttpOnly cookie so the
  browser app keeps working) or that cookie.
- Origin: state-changing requests and WebSocket handshakes that carry an Origin must come from
  the served origin (same host:port as the request) or one of `Settings.allowed_origins`;
  ``null`` and foreign origins are refused. Requests without Origin (curl, scripts) pass.
- Body: refused with 413 beyond `max_body_bytes`, by Content-Length and by streamed length.
- JSON: nesting deeper than `max_json_depth` is refused with 413 before any parser sees it.

Edit tokens: each graph and run has its own; only a SHA-256 of it is stored.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson

from blockprop.api.errors import ApiError
from blockprop.service.tokens import hash_token, new_edit_token, new_id, token_matches
from blockprop.settings import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TOKEN_COOKIE = "blockprop_token"
EDIT_HEADER = "X-Edit-Token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_OPEN_PATHS = {"/api/health"}


def check_edit_token(given: str | None, stored_hash: str, what: str) -> None:
    """403 unless `given` is the edit token whose hash is `stored_hash`."""
    if not given:
        raise ApiError(
            403,
            "edit_token_required",
            f"changing this {what} needs its edit token in the {EDIT_HEADER} header",
        )
    if not token_matches(given, stored_hash):
        raise ApiError(403, "bad_edit_token", f"wrong edit token for this {what}")


# --- JSON depth -------------------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_TABLE = np.zeros(256, dtype=np.int8)
_DEPTH_TABLE[[ord("["), ord("{")]] = 1
_DEPTH_TABLE[[ord("]"), ord("}")]] = -1


def json_depth(raw: bytes) -> int:
    """Maximum nesting depth of a JSON text, without parsing it (strings are skipped)."""
    if not raw:
        return 0
    stripped = _JSON_STRING.sub(b'""', raw)
    steps = _DEPTH_TABLE[np.frombuffer(stripped, dtype=np.uint8)].astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


# --- helpers ----------------------------------------------------------------------------------


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", ()):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


def _is_loopback_name(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_host(hostport: str) -> str:
    if hostport.startswith("["):
        return hostport[1 : hostport.find("]")] if "]" in hostport else hostport
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


def _normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


class Guard:
    """ASGI middleware enforcing the checks in the module docstring."""

    def __init__(self, app: Any, settings: Settings):
        self.app = app
        self.settings = settings
        self.allowed = {_normalise_origin(o) for o in settings.allowed_origins}
        self.allowed_hosts = {urlsplit(o).hostname for o in settings.allowed_origins} - {None}
        self.allowed_hosts.add(settings.host.lower())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope.get("path", "")
        try:
            set_cookie = self._check_access(scope, headers, path)
            self._check_origin(scope, headers, kind)
        except ApiError as e:
            await self._refuse(scope, receive, send, e)
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        if set_cookie:
            send = _with_cookie(send, set_cookie)
        if scope.get("method") in _UNSAFE:
            await self._with_body(scope, receive, send, headers)
        else:
            await self.app(scope, receive, send)

    # -- checks --

    def _check_access(self, scope: Scope, headers: dict[str, str], path: str) -> str | None:
        host = _split_host(headers.get("host", ""))
        token = self.settings.token
        if not token:
            if host and not _is_loopback_name(host) and host.lower() not in self.allowed_hosts:
                raise ApiError(
                    403,
                    "forbidden_host",
                    f"this server answers to loopback names only, not {host!r}; to serve other "
                    "hosts set BLOCKPROP_TOKEN (and BLOCKPROP_ALLOWED_ORIGINS)",
                )
            return None
        if path in _OPEN_PATHS:
            return None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        from_query = (query.get("token") or [None])[0]
        given = given or from_query or _cookie(headers.get("cookie", ""), TOKEN_COOKIE)
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(
                401,
                "unauthorized",
                "this server needs its access token: `Authorization: Bearer <token>` "
                "or `?token=<token>`",
            )
        return from_query if from_query and scope["type"] == "http" else None

    def _check_origin(self, scope: Scope, headers: dict[str, str], kind: str) -> None:
        if kind == "http" and scope.get("method") not in _UNSAFE:
            return
        origin = headers.get("origin")
        if origin is None:
            return  # not a browser: scripts and tools
        if origin.strip().lower() == "null":
            raise ApiError(403, "forbidden_origin", "requests from a null Origin are refused")
        normalised = _normalise_origin(origin)
        served_scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        served = _normalise_origin(f"{served_scheme}://{headers.get('host', '')}")
        if normalised == served or normalised in self.allowed:
            return
        raise ApiError(
            403,
            "forbidden_origin",
            f"origin {origin!r} may not change state here (allowed: the served origin and "
            "BLOCKPROP_ALLOWED_ORIGINS)",
        )

    # -- body --

    async def _with_body(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        cap = self.settings.max_body_bytes
        length = headers.get("content-length")
        too_big = ApiError(
            413, "too_large", f"the request body is larger than the limit of {cap} bytes"
        )
        if length is not None:
            try:
                if int(length) > cap:
                    raise too_big
            except ValueError:
                await self._refuse(
                    scope, receive, send, ApiError(400, "bad_request", "bad Content-Length")
                )
                return
            except ApiError as e:
                await self._refuse(scope, receive, send, e)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await self._refuse(scope, receive, send, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if "json" in headers.get("content-type", "") or (
            "content-type" not in headers and body[:1] in (b"{", b"[")
        ):
            depth = json_depth(body)
            if depth > self.settings.max_json_depth:
                await self._refuse(
                    scope,
                    receive,
                    send,
                    ApiError(
                        413,
                        "too_large",
                        f"the JSON body nests {depth} levels deep; the limit is "
                        f"{self.settings.max_json_depth}",
                    ),
                )
                return
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: ApiError) -> None:
        body = orjson.dumps(err.body())
        if scope["type"] == "websocket":
            # Refuse the handshake with an HTTP response where the server supports it.
            if "websocket.http.response" in scope.get("extensions", {}):
                await send(
                    {
                        "type": "websocket.http.response.start",
                        "status": err.status,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _with_cookie(send: Send, token: str) -> Send:
    cookie = f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode("latin-1")

    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
        await send(message)

    return wrapped


__all__ = [
    "EDIT_HEADER",
    "Guard",
    "check_edit_token",
    "hash_token",
    "json_depth",
    "new_edit_token",
    "new_id",
    "token_matches",
]
