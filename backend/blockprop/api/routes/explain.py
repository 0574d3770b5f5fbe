"""POST /api/explain: one sample through a graph, node by node, for the classroom.

A thin handler over :func:`blockprop.engine.explain.explain`; like the other heavy routes
it is sized first, then computed and encoded in the compute pool, off the event loop. With
`run_id` the trained parameters come from the run manager (live from the worker, else the
last checkpoint).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from blockprop.api.deps import RunsDep, SettingsDep, StoreDep, graph_doc
from blockprop.api.errors import ApiError
from blockprop.api.routes.analysis import ComputeDep, HeavyRoute, json_bytes, prepare
from blockprop.api.routes.runs import load_run
from blockprop.api.schemas import ExplainRequest, ExplainResult, errors
from blockprop.service import heavy

router = APIRouter(tags=["classroom"], route_class=HeavyRoute)


@router.post("/explain", response_model=ExplainResult, responses=errors(404, 409, 413, 422, 429))
async def explain(
    body: ExplainRequest, settings: SettingsDep, store: StoreDep, runs: RunsDep, pool: ComputeDep
) -> Response:
    """Forward and backward on **one sample** (or each of a mini-batch of P ≤ 16: `costs` per
    sample, `loss` their mean, `param_grads` the mean gradient and `batch.param_grads` each
    sample's; `nodes` walk sample `sample`), with what the classroom shows at each node:
    its value, dC/d(its output) and who sent it, the values its op's explain templates name
    (`GET /api/ops` → `explain`), and each local rule's result — a node's contribution to
    dC/d(input). Parameters come from the graph's `state` or from `seed`. Missing feeds get
    defaults, so `{"graph": ...}` alone works; `feeds` says what can be fed. `training` runs
    dropout as a training step does (its mask is in the node's `env`); `update` adds one step
    of the chosen optimiser with its formula and numbers.

    With `run_id`, the **trained** parameters of that run (live from its worker, else its last
    checkpoint) are used: 404 `not_found` for an unknown run, 409 `no_state` when it has no
    parameters yet, 422 `state_mismatch` naming the node and parameter when they do not fit
    the posted graph. `inputs` are raw (as in the dataset, or as typed): when the run
    normalised its inputs, the same transform is applied to them and `run.normalized` says so;
    the input nodes' values are the normalised ones. `run.step` is the step of the parameters;
    `run_step` asks for the same ones again (see the field).

    413 `too_large` when the answer would exceed the server's limit
    (`BLOCKPROP_MAX_RESPONSE_BYTES`), naming the biggest node; 429 `busy`, with `Retry-After`,
    while the server computes as many heavy requests as it takes."""
    doc = graph_doc(body.graph, settings)
    inputs = body.inputs or None
    answer = "explain_update" if body.update is not None else "explain"
    feeds, _, cost = await asyncio.to_thread(prepare, doc, inputs, answer, settings)
    trained = run = None
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
        run = {"id": body.run_id, "step": trained["step"], "normalized": trained["normalized"]}
    options = {
        "sample": body.sample,
        "training": body.training,
        "update": body.update.model_dump() if body.update else None,
    }
    args = (doc, feeds, body.seed, settings.max_tensor_bytes, trained, run, options)
    return json_bytes(await pool.run(heavy.explain, *args, cost=cost))
