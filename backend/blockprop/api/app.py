"""The FastAPI application factory.

`create_app(settings)` wires the routes, the one error shape, the safety guard (access token,
Host and Origin checks, body caps) and, while serving, the store and the run manager (opened
at start-up, closed at shutdown). Tests override the dependencies in `api/deps.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from blockprop import __version__
from blockprop.api.errors import install_error_handlers
from blockprop.api.routes import analysis, datasets, examples, graphs, health, ops, runs, stream
from blockprop.api.security import Guard
from blockprop.api.spa import mount_spa
from blockprop.settings import Settings, get_settings

DESCRIPTION = """
Draw computation graphs as block diagrams and train them with backpropagation.

- Errors share one shape, `{"error": {"code", "message", "nodes", "port"}}`, with a stable
  `code` and the HTTP status that fits (403, 404, 409, 413, 422, 429).
- Graphs and runs return an **edit token** when created; changing or controlling them needs
  it in the `X-Edit-Token` header. Reading needs only the (unguessable) id.
- When the server has an access token (`BLOCKPROP_TOKEN`), every request needs it:
  `Authorization: Bearer <token>` or `?token=<token>`.
- The live stream of a run is the WebSocket `/api/runs/{id}/stream` (see DESIGN.md "Stream").
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from blockprop.service.runs import RunManager
        from blockprop.service.store import Store

        store = Store(settings.database)
        manager = RunManager(store, settings)
        await manager.start()
        app.state.store = store
        app.state.runs = manager
        try:
            yield
        finally:
            await manager.shutdown()
            store.close()

    app = FastAPI(
        title="Blockprop",
        version=__version__,
        summary="Draw computation graphs as block diagrams and train them with backpropagation.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for module in (health, ops, analysis, datasets, examples, graphs, runs, stream):
        app.include_router(module.router, prefix="/api")
    mount_spa(app, settings.static_dir)
    app.add_middleware(Guard, settings=settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with our error shape for 422 and the stream frames' schemas."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    from blockprop.api.schemas import STREAM_MODELS, DatasetUpload, ErrorBody, Request

    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for path in doc.get("paths", {}).values():
        for op in path.values():
            invalid = op.get("responses", {}).get("422")
            if invalid and "HTTPValidationError" in str(invalid):
                invalid["description"] = "invalid request (unknown or bad fields, invalid graph)"
                invalid["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                }
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    models = [ErrorBody, DatasetUpload, *STREAM_MODELS]
    _, extra = models_json_schema(
        [(m, "validation" if issubclass(m, Request) else "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    for name, schema in extra.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for union, members in (
        ("StreamServerFrame", [m for m in STREAM_MODELS if m.__name__.startswith("Stream")]),
        ("StreamClientMessage", [m for m in STREAM_MODELS if m.__name__.startswith("Client")]),
    ):
        schemas[union] = {
            "description": f"any frame of WS /api/runs/{{id}}/stream ({union[6:]})",
            "oneOf": [{"$ref": f"#/components/schemas/{m.__name__}"} for m in members],
        }
    app.openapi_schema = doc
    return doc
