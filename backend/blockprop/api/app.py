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
from blockprop.api.docs import install_docs
from blockprop.api.errors import install_error_handlers
from blockprop.api.routes import (
    analysis,
    datasets,
    examples,
    export,
    graphs,
    health,
    ops,
    runs,
    stream,
)
from blockprop.api.security import Guard
from blockprop.api.spa import mount_spa
from blockprop.engine import registry
from blockprop.settings import Settings, get_settings

DESCRIPTION = """
Draw computation graphs as block diagrams and train them with backpropagation.

## Errors
Every error has one shape, `{"error": {"code", "message", "nodes", "port"}}`, with a stable
`code` and the HTTP status that fits: 400 `bad_host` (a malformed Host header); 401
`unauthorized`; 403 `edit_token_required`, `bad_edit_token`, `forbidden_origin` (also a
malformed Origin), `forbidden_host`; 404 `not_found`; 405 `method_not_allowed` (with an `Allow`
header listing the path's methods); 409 `conflict`, `not_live`, `not_resumable`; 413
`too_large` (body, JSON depth, node count, gradcheck size, exported source size, an answer
estimated over `BLOCKPROP_MAX_RESPONSE_BYTES`, naming the biggest node); 415; 422
`invalid_request` (unknown or bad fields, naming the field; also a JSON body that is not UTF-8,
or holds `NaN`/`Infinity`, a number beyond a double, an integer beyond 64 bits or a string with
a lone UTF-16 surrogate) and the engine's and the data loaders' codes (`cycle`, `unknown_op`,
`shape_mismatch`, `bad_feed`, `too_large`, `bad_config`, `unknown_dataset`, `not_numeric`,
`not_exportable`, …); 429 `too_many_runs`, `too_many_sessions`, `too_many_clients`, `busy`
(the heavy requests — evaluate, gradcheck, explain, exports — are computed in a bounded pool
with a memory budget: it is full) (always with `Retry-After`, in seconds); 500 `internal`
(never with internals); 503 `unavailable` (the worker computing a request died: retry).

## Access
- Graphs and runs return an **edit token** when created, shown once; changing or controlling
  them needs it in the `X-Edit-Token` header. Reading needs only the unguessable id.
- With an access token configured (`BLOCKPROP_TOKEN`), every request needs it
  (`Authorization: Bearer <token>`, `?token=<token>` which also sets a cookie, or that cookie);
  `/api/health` stays open for probes.
- State-changing requests and WebSocket handshakes that carry an `Origin` must come from the
  served origin or `BLOCKPROP_ALLOWED_ORIGINS`.

## Runs
Status: `queued`, `starting`, `running`, `paused`, `done`, `stopped`, `diverged`, `failed`,
and `interrupted` (the server or the run's worker stopped while the run was live, or the run
was *parked*: `POST …/resume` continues it from its last checkpoint, exactly). Runs train in a
pool of worker processes, many per worker. A new run (or a resumed interrupted one) is admitted
while a worker can keep its pace; otherwise it is `queued` — `queue: {position, ahead,
eta_seconds}` says where it stands, on its stream too — and starts by itself when a place
frees. 429 `too_many_runs` (with `Retry-After`) only when the queue is full, or when this client
(`X-Client-Id`, else its address) already has its share of runs live or waiting. A run whose
worker dies is resumed on another from its checkpoint. With a cap on live runs
(`BLOCKPROP_MAX_RUNS`) the run paused or held the longest with nobody watching its stream and
nobody controlling it for a while is parked to make room: checkpointed where it waits and made
`interrupted` (its `reason` says so). `GET /api/load`: how busy the pool is.
A run that diverges (a non-finite loss or gradient) is *held* with the
parameters of its last finite step and `diverged_node`, the first node holding a non-finite value:
`live` stays true and `finished_at` null until it is resumed (`PATCH` a smaller `lr` first) or
stepped, which go on from those parameters, or stopped, which ends it as `diverged`.
`live` (in a run and in every stream `status` frame): a worker holds the run, so it can be
paused, resumed, stepped and changed.
Metric points: `{step, epoch, loss, lr, grad_norm, t}` plus, at the end of an epoch,
`train_loss`, and on evaluation epochs `test_loss` and `accuracy`.
A run trains a stored graph (`graph_id`) or an inline `graph`; with both, the inline graph (say,
unsaved edits) is trained and the run is listed under the stored one:
`GET /api/runs?graph_id=…&ids=…` lists a graph's runs (and the given ones), newest first.
The training config's `speed` (steps per second at most, 0 for as fast as it goes) slows a run
down to be watched; like `lr`, `momentum`, `l1` and `l2` it can change while the run trains.

## Stream: `WS /api/runs/{id}/stream`
Query: `since` (replay every metrics batch after this seq first), `rate` (snapshots per second,
default 10, 0 for none), `edit_token` (allows control), `token` (access token).
JSON text frames, one object each, field `type` (schemas `StreamServerFrame`,
`StreamClientMessage` below):
- server → client: `hello` (run, status, `seq` = last batch, `since` = this connection sends
  batches after it), `metrics {seq, points}` (seq 1, 2, 3, … with no gaps; never dropped),
  `snapshot` (node and parameter summaries; latest wins, at the subscribed rate), `boundary`
  (prediction grid for 2-D datasets; the fitted curve for a regression on one feature),
  `status`, `error`, `ack`, `auth`.
- client → server: `hello {since}` (resync: a fresh hello, then every batch after `since`),
  `subscribe {nodes?, rate?, boundary?}`, `auth {edit_token}`, and with the edit token
  `pause`, `resume`, `step {n}`, `stop`, `set {lr, momentum, l1, l2, speed}`.
A client that stops reading gets fewer snapshots and is dropped after a send timeout; it never
slows the run or the other clients. `GET /api/runs/{id}/metrics?since=` fills in gaps too.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    registry.all_ops()  # load every op before the first request (no lazy import under load)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from blockprop.service.runs import RunManager
        from blockprop.service.store import Store

        store = Store(settings.database)
        if settings.executor == "ray":  # the runs are a Ray actor's: this replica is stateless
            from blockprop.service.remote_runs import RemoteRuns

            manager: Any = RemoteRuns(store, settings)
        else:
            manager = RunManager(store, settings)
        await manager.start()
        app.state.store = store
        app.state.runs = manager
        try:
            yield
        finally:
            sessions = getattr(app.state, "sessions", None)  # created with the first session
            if sessions is not None:
                await sessions.shutdown()  # followers hear why the session ends
            await manager.shutdown()
            store.close()
            if getattr(app.state, "compute", None) is not None:  # made on first heavy request
                app.state.compute.shutdown()

    app = FastAPI(
        title="Blockprop",
        version=__version__,
        summary="Draw computation graphs as block diagrams and train them with backpropagation.",
        description=DESCRIPTION,
        lifespan=lifespan,
        # operationIds are the handlers' names (create_run, export_onnx…): what generated
        # clients call their functions
        generate_unique_id_function=lambda route: route.name,
        docs_url=None,  # /docs and /redoc are served offline by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for module in (health, ops, analysis, datasets, examples, graphs, runs, stream, export):
        app.include_router(module.router, prefix="/api")
    _include_classroom(app)
    install_docs(app)
    mount_spa(app, settings.static_dir)
    app.add_middleware(Guard, settings=settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _include_classroom(app: FastAPI) -> None:
    """The classroom's routes: explain one sample, broadcast sessions (issue 8)."""
    from blockprop.api.routes import explain, sessions, teaching

    for module in (explain, sessions, teaching):
        app.include_router(module.router, prefix="/api")


#: how requests authenticate (see README "Serving beyond your machine")
SECURITY_SCHEMES = {
    "accessToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "BLOCKPROP_TOKEN, when the server sets one: every request carries it",
    },
    "accessTokenQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "the same token as a query parameter (for links and WebSockets)",
    },
}


def _graph_refs(node: Any) -> None:
    """Replace each `GraphDocument` marker by a reference to the Graph schema."""
    from blockprop.api.schemas.graphs import GRAPH_MARK

    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, dict) and value.get(GRAPH_MARK):
            node[key] = {"$ref": "#/components/schemas/Graph"}
        elif isinstance(value, dict | list):
            _graph_refs(value)


def declare_security(doc: dict[str, Any]) -> None:
    """Security schemes, and on every operation the 401 a server with a token answers to a
    request without it (`{}` in `security`: a server without a token needs none)."""
    components = doc.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    doc["security"] = [{}, {"accessToken": []}, {"accessTokenQuery": []}]
    unauthorized = {
        "description": "access token missing or wrong (the server sets BLOCKPROP_TOKEN)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for path in doc.get("paths", {}).values():
        for op in path.values():
            op.setdefault("responses", {}).setdefault("401", unauthorized)


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
        separate_input_output_schemas=False,  # one Graph, one TrainConfig… in and out
    )
    declare_security(doc)
    _graph_refs(doc)
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
