"""The classroom's deeper views (issue 17): POST /api/jacobian.

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
from blockprop.api.schemas import JacobianRequest, JacobianResult, errors
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
