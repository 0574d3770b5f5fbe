"""One error shape everywhere: ``{"error": {"code", "message", "nodes", "port"}}``.

Handlers for our own `ApiError`, Starlette's HTTP errors (404, 405, ...), FastAPI's request
validation errors (mapped to ``invalid_request`` naming the field) and a catch-all that answers
``internal`` without leaking internals.

Every 429 carries ``Retry-After``; every 405 an ``Allow`` listing the methods the path really
has (Starlette names only the first route it tried), and a method on an ``/api`` path that no
API route has is 404, not 405 (the SPA's catch-all GET route does not count there).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from blockprop.service.errors import ServiceError

log = logging.getLogger("blockprop.api")

# Stable codes for the HTTP statuses Starlette raises on its own.
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_runs",
    500: "internal",
    503: "unavailable",
}

# Seconds a client told 429 waits before trying again, unless the refusal names its own: long
# enough not to hammer a full server, short enough for a person to retry by hand.
RETRY_AFTER_SECONDS = 5
SPA_ROUTE = "spa"  # the name of the SPA's catch-all GET route (api/spa.py)
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ApiError(ServiceError):
    """An error answered with the shared shape and the given HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        nodes: list[str] | None = None,
        port: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status, code, message, nodes, port)
        self.headers = headers


def _text(s: str) -> str:
    """`s` as UTF-8-encodable text: a lone surrogate from the request (echoed in a message or
    a node id) becomes a visible escape instead of failing the error response itself."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(
    code: str, message: str, nodes: list[str] | None = None, port: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": _text(message),
            "nodes": [_text(str(n)) for n in nodes or []],
            "port": None if port is None else _text(str(port)),
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    nodes: list[str] | None = None,
    port: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if status == 429 and not any(k.lower() == "retry-after" for k in headers or {}):
        headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER_SECONDS)}
    return Response(
        orjson.dumps(error_body(code, message, nodes, port)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with id {ident!r}")


def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if not errors:
        return error_response(422, "invalid_request", "invalid request")
    first = errors[0]
    loc = [p for p in first.get("loc", ()) if p != "body"]
    field = ".".join(str(p) for p in loc) or "body"
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        message = f"unknown field {field!r}"
    elif kind == "missing":
        message = f"missing field {field!r}"
    elif kind == "json_invalid":
        ctx = first.get("ctx") or {}
        message = f"the body is not valid JSON: {ctx.get('error', first.get('msg', ''))}"
        field = "body"
    else:
        message = f"{field}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problems)"
    nodes, port = node_and_port(loc, getattr(exc, "body", None))
    # a run's training config keeps the engine's code for it, whoever checks it first
    code = "bad_config" if loc[:1] == ["train"] else "invalid_request"
    return error_response(422, code, message, nodes, port)


def node_and_port(loc: list[Any], body: Any) -> tuple[list[str], str | None]:
    """Name the graph node (and input port) a field error sits in, when it is inside one."""
    try:
        if "nodes" not in loc:
            return [], None
        i = loc.index("nodes")
        doc = body
        for part in loc[:i]:
            doc = doc[part]
        node = doc["nodes"][loc[i + 1]]
        node_id = node.get("id") if isinstance(node, dict) else None
        port = None
        if len(loc) > i + 3 and loc[i + 2] == "inputs":
            port = str(loc[i + 3])
        return ([str(node_id)] if isinstance(node_id, str) else []), port
    except (KeyError, IndexError, TypeError, ValueError):
        return [], None


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers on this path, asking each route as the router does.
    The SPA's catch-all GET does not count on an `/api` path (those are 404 there)."""
    api = request.url.path.startswith("/api/")
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        for route in request.app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                if not (api and getattr(route, "name", None) == SPA_ROUTE):
                    allowed.append(method)
                break
    return allowed


def method_not_allowed(request: Request) -> Response:
    """405 with the path's real methods in `Allow`, or 404 when no route has the path."""
    allowed = allowed_methods(request)
    if not allowed:
        return error_response(404, "not_found", f"no such endpoint: {request.url.path}")
    return error_response(
        405,
        "method_not_allowed",
        f"method {request.method} is not allowed on {request.url.path} "
        f"(allowed: {', '.join(allowed)})",
        headers={"Allow": ", ".join(allowed)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        headers = getattr(exc, "headers", None)
        return error_response(exc.status, exc.code, exc.message, exc.nodes, exc.port, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return method_not_allowed(request)
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.url.path}"
        return error_response(exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _validation_error(request, exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error (see the server log)")
