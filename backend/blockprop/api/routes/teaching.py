"""The classroom's deeper views (issue 17): POST /api/jacobian and POST /api/landscape.

Thin handlers like explain's: sized first, computed in the compute pool, off the event loop.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from blockprop.api.deps import RunsDep, SettingsDep, StoreDep, graph_doc
from blockprop.api.errors import ApiError
from blockprop.api.routes.analysis import ComputeDep, HeavyRoute, json_bytes, prepare
from blockprop.api.routes.runs import load_run
from blockprop.api.schemas import (
    JacobianRequest,
    JacobianResult,
    LandscapeRequest,
    LandscapeResult,
    errors,
)
from blockprop.service import heavy

router = APIRouter(tags=["classroom"], route_class=HeavyRoute)


async def trained_of(store, runs, run_id: str | None, run_step: int | None):
    """A run's trained parameters (as explain takes them) and what to say about them."""
    if run_id is None:
        return None, None
    row = await load_run(store, run_id)
    trained = await runs.trained_state(row, run_step)
    if trained is None:
        raise ApiError(
            409,
            "no_state",
            f"run {run_id!r} has no trained parameters yet (it is {row.status})",
        )
    return trained, {"id": run_id, "step": trained["step"], "normalized": trained["normalized"]}


@router.post("/jacobian", response_model=JacobianResult, responses=errors(404, 409, 413, 422, 429))
async def jacobian(
    body: JacobianRequest, settings: SettingsDep, store: StoreDep, runs: RunsDep, pool: ComputeDep
) -> Response:
    """Both Jacobians of the block `node` at one sample, the notes' ∂z_out/∂z_in and
    ∂z_out/∂w: one matrix `[d_out, d_in]` per float input port and per trainable parameter,
    built from the block's VJP rules applied to the basis vectors of its output. `g` (dC/dz of
    the sample) and each `vjp` (what backward computes) satisfy g·J = vjp; `diagonal` marks a
    pointwise block's matrix.

    413 `too_large` beyond 100,000 entries in all, with the sizes (backprop never builds these
    matrices); 422 `unknown_node`; with `run_id`, the run's trained parameters (404, 409 and
    422 `state_mismatch` as for explain)."""
    doc = graph_doc(body.graph, settings)
    feeds, _, cost = await asyncio.to_thread(prepare, doc, body.inputs or None, "explain", settings)
    trained, run = await trained_of(store, runs, body.run_id, body.run_step)
    args = (doc, feeds, body.node, body.seed, settings.max_tensor_bytes, trained, run)
    return json_bytes(await pool.run(heavy.jacobian, *args, cost=cost))


@router.post("/landscape", response_model=LandscapeResult, responses=errors(413, 422, 429))
async def landscape(
    body: LandscapeRequest, settings: SettingsDep, runs: RunsDep, pool: ComputeDep
) -> Response:
    """The loss landscape: the average training loss L(S, w) over a grid of two scalar
    parameter entries (`axes`: `{"param": "lin.W", "index": [0, 0], "range": [-2, 4]}`),
    every other parameter at its starting value, one forward of the training set per point;
    and the paths of full-batch gradient descent (`gd`), SGD (batch 1, `sgd`) and mini-batch
    SGD (`minibatch`, `batch_size`) from the same `start`, `steps` steps each, taken by the
    trainer itself with the `train` settings.

    422 `bad_param` naming the node for an axis that is not a parameter entry, `no_cost` for a
    graph without a cost, the dataset's codes for bad data; 413 `too_large` for a resolution
    beyond 101 × 101."""
    doc = graph_doc(body.graph, settings)
    _, _, cost = await asyncio.to_thread(prepare, doc, None, "forward", settings)
    dataset = body.dataset.model_dump()
    upload, csv = await asyncio.to_thread(runs.upload_for, dataset)
    options = {
        "axes": [a.model_dump() for a in body.axes],
        "resolution": list(body.resolution),
        "config": body.train,
        "start": list(body.start) if body.start is not None else None,
        "steps": body.steps,
        "batch_size": body.batch_size,
    }
    args = (doc, dataset, upload, csv, settings.max_upload_rows, options)
    return json_bytes(await pool.run(heavy.landscape, *args, cost=cost))
