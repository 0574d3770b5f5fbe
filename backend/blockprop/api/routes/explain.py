"""POST /api/explain: one sample through a graph, node by node, for the classroom.

A thin handler over :func:`blockprop.engine.explain.explain`; like the other analysis
routes the computation runs in a thread, off the event loop. With `run_id` the trained
parameters come from the run manager (live from the worker, else the last checkpoint).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from blockprop.api.deps import RunsDep, SettingsDep, StoreDep, graph_doc
from blockprop.api.errors import ApiError
from blockprop.api.routes.analysis import _feeds, _json
from blockprop.api.routes.runs import load_run
from blockprop.api.schemas import ExplainRequest, ExplainResult, errors
from blockprop.service.errors import from_issues
from blockprop.settings import Settings

router = APIRouter(tags=["classroom"])


@router.post("/explain", response_model=ExplainResult, responses=errors(404, 409, 413, 422))
async def explain(
    body: ExplainRequest, settings: SettingsDep, store: StoreDep, runs: RunsDep
) -> Response:
    """Forward and backward on **one sample**, with what the classroom shows at each node:
    its value, dC/d(its output) and who sent it, the values its op's explain templates name
    (`GET /api/ops` → `explain`), and each local rule's result — a node's contribution to
    dC/d(input). Parameters come from the graph's `state` or from `seed`. Missing feeds get
    defaults, so `{"graph": ...}` alone works; `feeds` says what can be fed.

    With `run_id`, the **trained** parameters of that run (live from its worker, else its last
    checkpoint) are used: 404 `not_found` for an unknown run, 409 `no_state` when it has no
    parameters yet, 422 `state_mismatch` naming the node and parameter when they do not fit
    the posted graph. `inputs` are raw (as in the dataset, or as typed): when the run
    normalised its inputs, the same transform is applied to them and `run.normalized` says so;
    the input nodes' values are the normalised ones. `run.step` is the step of the parameters;
    `run_step` asks for the same ones again (see the field)."""
    doc = graph_doc(body.graph, settings)
    feeds: dict[str, Any] = {}
    if body.inputs:
        feeds, _ = _feeds(body.inputs)
    trained = None
    if body.run_id is not None:
        row = await load_run(store, body.run_id)
        trained = await runs.trained_state(row, body.run_step)
        if trained is None:
            raise ApiError(
                409,
                "no_state",
                f"run {body.run_id!r} has no trained parameters yet (it is {row.status}): "
                "explain once it has started",
            )
    result = await asyncio.to_thread(_explain, doc, feeds, body.seed, settings, trained)
    if body.run_id is not None and trained is not None:
        result["run"] = {
            "id": body.run_id,
            "step": trained["step"],
            "normalized": trained["normalized"],
        }
    return _json(result)


def _explain(
    doc: dict[str, Any],
    feeds: dict[str, Any],
    seed: int,
    settings: Settings,
    trained: dict[str, Any] | None,
) -> dict[str, Any]:
    from blockprop.engine.explain import explain as run_explain
    from blockprop.engine.graph import GraphError

    try:
        return run_explain(
            doc,
            feeds,
            seed=seed,
            max_bytes=settings.max_tensor_bytes,
            trained=trained,
            trained_by="the run",
        )
    except GraphError as e:
        raise from_issues(e.issues) from None
