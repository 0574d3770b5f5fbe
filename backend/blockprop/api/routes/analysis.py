"""Stateless graph tools: validate, evaluate (values and gradients) and gradcheck.

Handlers are plain functions: FastAPI runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

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
from blockprop.service.errors import from_issues
from blockprop.settings import Settings

router = APIRouter(tags=["graphs"])

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def _json(obj: Any) -> Response:
    return Response(orjson.dumps(obj, option=_NUMPY), media_type="application/json")


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


def _compile(doc: dict[str, Any], batch: int, seed: int, settings: Settings, grads: str):
    from blockprop.engine.executor import compile_graph
    from blockprop.engine.graph import GraphError

    try:
        return compile_graph(
            doc,
            batch,
            dtype=np.float64,
            seed=seed,
            max_bytes=settings.max_tensor_bytes,
            grads=grads,
        )
    except GraphError as e:
        raise from_issues(e.issues) from None


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


@router.post(
    "/evaluate",
    response_model=EvaluateResult,
    responses=errors(413, 422),
)
def evaluate(body: EvaluateRequest, settings: SettingsDep) -> Response:
    """Run a graph once, stateless: every node's value and, with `backward`, every node's
    gradient dL/dz and every parameter's gradient, in float64. Parameters come from the
    graph's `state` or are initialised from `seed`; they are returned in `state`."""
    from blockprop.engine.graph import GraphError

    doc = graph_doc(body.graph, settings)
    feeds, batch = _feeds(body.inputs)
    plan = _compile(doc, batch, body.seed, settings, "nodes")
    try:
        loss = plan.forward(feeds, training=False)
        if body.backward:
            plan.backward()
    except GraphError as e:
        raise from_issues(e.issues) from None
    return _json(
        {
            "loss": _finite(float(loss)),
            "values": plan.values,
            "grads": plan.grads if body.backward else {},
            "param_grads": plan.param_grads if body.backward else {},
            "state": plan.params,
        }
    )


@router.post(
    "/gradcheck",
    response_model=GradcheckResult,
    responses=errors(413, 422),
)
def gradcheck(body: GradcheckRequest, settings: SettingsDep) -> dict[str, Any]:
    """Compare backpropagation with central finite differences (float64), per node value
    and per parameter: the max relative error of each. Costs one forward pass per checked
    number, so the server caps the count (`too_large`); narrow it with `keys`."""
    from blockprop.engine.gradcheck import checked_count
    from blockprop.engine.gradcheck import gradcheck as run_gradcheck
    from blockprop.engine.graph import GraphError

    doc = graph_doc(body.graph, settings)
    feeds, batch = _feeds(body.inputs)
    plan = _compile(doc, batch, body.seed, settings, "all")
    wanted = None if body.keys is None else set(body.keys)
    count = 0
    for key, arr in plan.values.items():
        if arr.dtype.kind == "f" and (wanted is None or key in wanted):
            count += checked_count(arr.size, body.per_item)
    for nid, params in plan.params.items():
        for name, arr in params.items():
            if wanted is None or f"{nid}.{name}" in wanted:
                count += checked_count(arr.size, body.per_item)
    cap = settings.max_gradcheck_elements
    if count > cap:
        raise ApiError(
            413,
            "too_large",
            f"gradcheck would perturb {count} numbers one at a time; the limit is {cap}: "
            "use a smaller batch, list the items to check in `keys` or sample them with "
            "`per_item`",
        )
    try:
        result = run_gradcheck(doc, feeds, seed=body.seed, keys=body.keys, per_item=body.per_item)
    except GraphError as e:
        raise from_issues(e.issues) from None
    errs = {k: float(v) for k, v in result.items()}
    worst = max(errs.values(), default=0.0)
    sizes = {k: a.size for k, a in plan.values.items()}
    sizes.update({f"{n}.{k}": a.size for n, p in plan.params.items() for k, a in p.items()})
    elements = {k: int(sizes[k]) for k in errs if k in sizes}
    return {
        "errors": errs,
        "max_error": worst,
        "ok": worst <= body.tolerance,
        "tolerance": body.tolerance,
        "elements": elements,
        "checked": {k: checked_count(n, body.per_item) for k, n in elements.items()},
    }
