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
- Host and Origin must be well-formed (a port is 0-65535): 400 `bad_host`, 403
  `forbidden_origin`.
- Body: refused with 413 beyond `max_body_bytes`, by Content-Length and by streamed length.
- JSON: nesting deeper than `max_json_depth` is refused with 413 before any parser sees it
  (any body that starts like JSON, whatever its Content-Type says). A JSON body (media type
  `application/json` or `application/*+json`, in any case) must also hold only values every
  layer behind can keep: UTF-8 text, finite numbers (no `NaN`/`Infinity` literals, none that
  overflow a double), integers within 64 bits and strings without lone UTF-16 surrogates;
  otherwise 422 `invalid_request` names the field. FastAPI's parser (the standard library's)
  accepts all of these, and NumPy, SQLite and orjson then fail on them deep inside a route.

Edit tokens: each graph and run has its own; only a SHA-256 of it is stored.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson

from blockprop.api.errors import ApiError, error_body, node_and_port
from blockprop.api.schemas.common import EDIT_HEADER, INT64_MAX, INT64_MIN
from blockprop.service.tokens import hash_token, new_edit_token, new_id, token_matches
from blockprop.settings import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TOKEN_COOKIE = "blockprop_token"
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


def _strip_strings(raw: bytes) -> bytes:
    return _JSON_STRING.sub(b'""', raw)


def json_depth(raw: bytes, *, stripped: bytes | None = None) -> int:
    """Maximum nesting depth of a JSON text, without parsing it (strings are skipped)."""
    if not raw:
        return 0
    stripped = _strip_strings(raw) if stripped is None else stripped
    steps = _DEPTH_TABLE[np.frombuffer(stripped, dtype=np.uint8)].astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


# --- JSON values --------------------------------------------------------------------------------

# An integer literal of 19 digits or more (fractions and exponents excluded): the only ones
# that can leave int64. orjson reads those up to 2^64 as ints and beyond as floats, silently.
_LONG_INT = re.compile(rb"(?<![\d.eE+\-])-?\d{19,}(?![\d.eE])")
_UTF8_BOM = b"\xef\xbb\xbf"
#: bodies larger than this are checked in a thread, off the event loop
_CHECK_IN_THREAD = 64 * 1024
#: the scope key under which the guard leaves a JSON body it has parsed, for the routes
PARSED_JSON = "blockprop.parsed_json"
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_SURROGATE = "holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"


class _Literal:
    """A `NaN`, `Infinity` or `-Infinity` literal, as the stdlib parser met it."""

    def __init__(self, text: str):
        self.text = text


def _long_int_outside_int64(stripped: bytes) -> bool:
    return any(not INT64_MIN <= int(m.group()) <= INT64_MAX for m in _LONG_INT.finditer(stripped))


def _bracket_depth(raw: bytes) -> int:
    """An upper bound of the nesting depth, brackets inside strings counted too: vectorised,
    it costs a few ms per MB, where skipping the strings first costs several times that."""
    steps = _DEPTH_TABLE[np.frombuffer(raw, dtype=np.uint8)].astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def _has_long_digit_run(raw: bytes, n: int = 19) -> bool:
    """Whether `n` digits stand in a row anywhere (vectorised): only then can an integer leave
    int64, and only then is the exact (slower) scan needed."""
    a = np.frombuffer(raw, dtype=np.uint8)
    if a.size < n:
        return False
    runs = np.concatenate(([0], np.cumsum((a >= 48) & (a <= 57), dtype=np.int32)))
    return bool((runs[n:] - runs[:-n] == n).any())


def json_value_problem(raw: bytes) -> tuple[Any, tuple[list[str | int], str] | None]:
    """The parsed document (None if it does not parse) and where it holds a value we refuse
    (the path to it, and why), else None.

    The fast path is one orjson parse (strict: it refuses non-UTF-8 text, the non-finite
    literals and lone surrogates) and a vectorised look for long integers; only a body that
    fails it is parsed again, leniently, to name the field or the syntax error. The syntax is
    judged here too: the stdlib parser behind would also take UTF-16 and UTF-32 text."""
    doc = None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _has_long_digit_run(raw) or not _long_int_outside_int64(_strip_strings(raw)):
            return doc, None
    return None, _why_refused(raw)


def _why_refused(raw: bytes) -> tuple[list[str | int], str] | None:
    not_utf8 = "the body is not UTF-8 text ({}); JSON bodies must be UTF-8"
    if b"\x00" in raw[:4]:  # RFC 8259's tell of UTF-16 and UTF-32, which decode as UTF-8 here
        return [], not_utf8.format("it looks like UTF-16 or UTF-32")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return [], not_utf8.format(f"byte {e.start}")
    try:
        doc = json.loads(text, parse_constant=_Literal)
    except json.JSONDecodeError as e:
        return [], f"the body is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
    return _first_bad_value(doc)


def _bad_scalar(value: object) -> str | None:
    if isinstance(value, _Literal):
        return f"{value.text} is not a JSON number; send a finite number or null"
    if isinstance(value, float) and not math.isfinite(value):
        return "the number is too large for a 64-bit float"
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:  # bools are in range
        return f"the integer {value} does not fit in 64 bits (-2^63 to 2^63-1)"
    if isinstance(value, str) and _SURROGATE.search(value):
        return f"the text {_LONE_SURROGATE}"
    return None


def _first_bad_value(doc: object) -> tuple[list[str | int], str] | None:
    """Depth-first, in document order, without recursion (the depth is capped anyway)."""
    stack: list[tuple[list[str | int], object]] = [([], doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if _SURROGATE.search(key):  # the error body escapes it
                    return [*path, key], f"the key {_LONE_SURROGATE}"
            stack.extend(([*path, k], item) for k, item in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(([*path, i], item) for i, item in reversed(list(enumerate(value))))
        elif (why := _bad_scalar(value)) is not None:
            return path, why
    return None


def _is_json_media(content_type: str | None) -> bool:
    """`application/json` or `application/*+json`, in any case, with or without params."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


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


_BAD_HOST = "the Host header is malformed: {!r} (expected host or host:port, port 0-65535)"


def _split_host(hostport: str) -> str:
    """The host name of a Host header; 400 `bad_host` when it or its port is malformed."""
    host, sep, port = hostport, "", ""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or hostport[end + 1 : end + 2] not in ("", ":"):
            raise ApiError(400, "bad_host", _BAD_HOST.format(hostport))
        host, sep, port = hostport[1:end], hostport[end + 1 : end + 2], hostport[end + 2 :]
    elif hostport.count(":") == 1:
        host, sep, port = hostport.partition(":")
    if sep and port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise ApiError(400, "bad_host", _BAD_HOST.format(hostport))
    return host


def _normalise_origin(origin: str) -> str:
    """`scheme://host:port` with the default port filled in; ValueError when malformed (a port
    out of range or not a number, an unclosed or invalid IPv6 bracket)."""
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def _allowed_origins(origins: list[str]) -> set[str]:
    allowed = set()
    for o in origins:
        try:
            allowed.add(_normalise_origin(o))
        except ValueError:
            raise ValueError(f"BLOCKPROP_ALLOWED_ORIGINS holds a malformed origin: {o!r}") from None
    return allowed


class Guard:
    """ASGI middleware enforcing the checks in the module docstring."""

    def __init__(self, app: Any, settings: Settings):
        self.app = app
        self.settings = settings
        self.allowed = _allowed_origins(settings.allowed_origins)
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
        host = _split_host(headers.get("host", ""))  # a malformed Host is refused in any mode
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
        try:
            normalised = _normalise_origin(origin)
        except ValueError:
            raise ApiError(
                403, "forbidden_origin", f"the Origin header is malformed: {origin!r}"
            ) from None
        served_scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        try:
            served = _normalise_origin(f"{served_scheme}://{headers.get('host', '')}")
        except ValueError:  # an odd Host that _split_host let through: no served origin
            served = None
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
        try:
            if len(body) > _CHECK_IN_THREAD:  # the event loop keeps serving streams meanwhile
                body, doc = await asyncio.to_thread(
                    self._check_json, body, headers.get("content-type")
                )
            else:
                body, doc = self._check_json(body, headers.get("content-type"))
        except ApiError as e:
            await self._refuse(scope, receive, send, e)
            return
        if doc is not None:
            scope[PARSED_JSON] = doc
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _check_json(self, body: bytes, content_type: str | None) -> tuple[bytes, Any]:
        """Depth for anything that starts like JSON; values for what is parsed as JSON. Returns
        the body for the app and, for a JSON body, the document parsed on the way (the routes
        reuse it rather than parse it again): a JSON body's UTF-8 byte order mark is dropped
        here (RFC 8259 lets a parser ignore it; not every parser behind does)."""
        is_json = _is_json_media(content_type)
        if is_json:
            body = body.removeprefix(_UTF8_BOM)
        if not body or (not is_json and body.lstrip()[:1] not in (b"{", b"[")):
            return body, None  # no body at all is no body, whatever the Content-Type says
        limit = self.settings.max_json_depth
        if _bracket_depth(body) > limit and (depth := json_depth(body)) > limit:
            raise ApiError(
                413, "too_large", f"the JSON body nests {depth} levels deep; the limit is {limit}"
            )
        if not is_json:
            return body, None
        doc, found = json_value_problem(body)
        if found is not None:
            raise _bad_value(body, *found)
        return body, doc

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: ApiError) -> None:
        body = orjson.dumps(error_body(err.code, err.message, err.nodes, err.port))
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


def _bad_value(body: bytes, path: list[str | int], why: str) -> ApiError:
    """422 invalid_request naming the field (and the graph node it sits in, if any)."""
    field = ".".join(str(p) for p in path) or "body"
    nodes: list[str] = []
    port = None
    if "nodes" in path:
        text = body.decode("utf-8")  # parsed once already
        nodes, port = node_and_port(path, json.loads(text, parse_constant=_Literal))
    return ApiError(422, "invalid_request", f"{field}: {why}", nodes, port)


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
