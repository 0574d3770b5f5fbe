"""Stateless graph tools: validate, evaluate (values and gradients) and gradcheck.

Validate is cheap and runs in FastAPI's thread pool. Evaluate and gradcheck are heavy: each
is sized first (the answer's bytes and the tensor memory, from the validated shapes) and
refused when too large, then computed and encoded in the compute pool
(:mod:`blockprop.service.compute`), never on the event loop. Explain and the exports share
`compute_pool` and `prepare` from here.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection, Request

from blockprop.api.deps import SettingsDep, graph_doc
from blockprop.api.errors import ApiError
from blockprop.api.schemas import (
    EvaluateRequest,
    EvaluateResult,
    GradcheckRequest,
    GradcheckResult,
    Graph,
    ValidationResult,
    errors,
)
from blockprop.api.security import PARSED_JSON
from blockprop.service import heavy
from blockprop.service.compute import ComputePool
from blockprop.settings import Settings


class _OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            parsed = self.scope.get(PARSED_JSON)  # the guard parsed it already
            self._json = parsed if parsed is not None else orjson.loads(await self.body())
        return self._json


class HeavyRoute(APIRoute):
    """A route whose JSON body can be large (a batch of feeds): parsed with orjson, about four
    times faster than the standard library's parser FastAPI uses, since parsing happens on
    the event loop. (orjson also refuses what the Guard refuses first: NaN, lone surrogates.)"""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_OrjsonRequest(request.scope, request.receive))

        return route


router = APIRouter(tags=["graphs"], route_class=HeavyRoute)


def compute_pool(conn: HTTPConnection) -> ComputePool:
    """The app's pool for heavy requests, made on first use (its workers start lazily too)."""
    pool = getattr(conn.app.state, "compute", None)
    if pool is None:
        pool = conn.app.state.compute = ComputePool.from_settings(conn.app.state.settings)
    return pool


ComputeDep = Annotated[ComputePool, Depends(compute_pool)]


def json_bytes(data: bytes) -> Response:
    """An answer the pool encoded already (FastAPI would encode on the event loop)."""
    return Response(data, media_type="application/json")


def prepare(
    doc: dict[str, Any], inputs: dict[str, Any] | None, answer: str, settings: Settings
) -> tuple[dict[str, np.ndarray], int, int]:
    """Feeds as arrays (none without `inputs`), the batch and the request's memory cost;
    refuses an answer over the server's limit (413). Blocking: call it in a thread."""
    feeds, batch = _feeds(inputs) if inputs is not None else ({}, 1)
    size = heavy.size(doc, batch, answer, settings.max_tensor_bytes)
    size.check(settings.max_response_bytes)
    return feeds, batch, size.cost


@router.post(
    "/validate",
    response_model=ValidationResult,
    responses=errors(413, 422),
)
def validate_graph(
    graph: Graph,
    settings: SettingsDep,
    batch_size: int = Query(1, ge=1, le=1_000_000, description="for the memory estimate"),
) -> dict[str, Any]:
    """Check a graph: topological order, every node's shape, or every problem found.

    Answers 200 with `ok: false` and the errors when the graph is invalid; errors name the
    node and the port and say what was expected. `too_large` when the estimated tensor memory
    for `batch_size` exceeds the server's limit.
    """
    from blockprop.engine.graph import validate

    doc = graph_doc(graph, settings)
    return validate(doc, max_bytes=settings.max_tensor_bytes, batch_size=batch_size).to_dict()


def _feeds(inputs: dict[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    feeds: dict[str, np.ndarray] = {}
    batch = None
    for nid, value in inputs.items():
        try:
            arr = np.asarray(value)
            if arr.dtype == object or arr.dtype.kind not in "biuf":
                raise ValueError("not a regular array of numbers")
            arr = arr.astype(np.int64 if arr.dtype.kind in "biu" else np.float64)
        except (TypeError, ValueError, OverflowError) as e:
            raise ApiError(
                422, "bad_feed", f"input '{nid}' is not a regular array of numbers ({e})", [nid]
            ) from None
        if arr.ndim == 0:
            raise ApiError(
                422,
                "bad_feed",
                f"input '{nid}' needs a leading batch axis (a list of samples)",
                [nid],
            )
        if batch is None:
            batch = arr.shape[0]
        elif arr.shape[0] != batch:
            raise ApiError(
                422,
                "bad_feed",
                f"input '{nid}' has {arr.shape[0]} samples but the others have {batch}",
                [nid],
            )
        feeds[nid] = arr
    if batch is None or batch < 1:
        raise ApiError(422, "bad_feed", "no inputs: feed every input and target node a batch")
    return feeds, batch


@router.post(
    "/evaluate",
    response_model=EvaluateResult,
    responses=errors(413, 422, 429),
)
async def evaluate(body: EvaluateRequest, settings: SettingsDep, pool: ComputeDep) -> Response:
    """Run a graph once, stateless: every node's value and, with `backward`, every node's
    gradient dL/dz and every parameter's gradient, in float64 (`dtype: float32` to compute
    as training does). Parameters come from the graph's `state` or are initialised from
    `seed`; they are returned in `state`, with the buffers (batch norm's running statistics).
    `training: true` runs the training-mode forward: dropout (masks drawn from `seed`) and
    batch norm on the batch's statistics. `outputs` narrows `values` (and `grads`) to the
    nodes named (422 `unknown_node` for one the graph has not). Without `backward` a
    prediction needs no labels: unfed targets and every node that needs one are left out
    (`loss` is then null).

    The answer's size is estimated before anything is computed: beyond the server's limit
    (`BLOCKPROP_MAX_RESPONSE_BYTES`) 413 `too_large`, naming the biggest node. 429 `busy`,
    with `Retry-After`, while the server computes as many heavy requests as it takes."""
    doc = graph_doc(body.graph, settings)
    answer = "evaluate" if body.backward else "forward"
    feeds, batch, cost = await asyncio.to_thread(prepare, doc, body.inputs, answer, settings)
    args = (doc, feeds, batch, body.seed, body.backward, settings.max_tensor_bytes)
    options = {"outputs": body.outputs, "dtype": body.dtype, "training": body.training}
    return json_bytes(await pool.run(heavy.evaluate, *args, options, cost=cost))


@router.post(
    "/gradcheck",
    response_model=GradcheckResult,
    responses=errors(413, 422, 429),
)
async def gradcheck(body: GradcheckRequest, settings: SettingsDep, pool: ComputeDep) -> Response:
    """Compare backpropagation with central finite differences (float64), per node value
    and per parameter: the max relative error of each. Costs one forward pass per checked
    number, so the server caps the count (`too_large`); narrow it with `keys`. 429 `busy`,
    with `Retry-After`, while the server computes as many heavy requests as it takes."""
    doc = graph_doc(body.graph, settings)
    feeds, batch, cost = await asyncio.to_thread(prepare, doc, body.inputs, "gradcheck", settings)
    options = {
        "seed": body.seed,
        "keys": body.keys,
        "per_item": body.per_item,
        "tolerance": body.tolerance,
        "training": body.training,
    }
    args = (doc, feeds, batch, options, settings.max_tensor_bytes)
    data = await pool.run(heavy.gradcheck, *args, settings.max_gradcheck_elements, cost=cost)
    return json_bytes(data)
