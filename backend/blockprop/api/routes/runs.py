"""Training runs: create, read, control (pause, resume, step, stop, live settings), metrics,
trained state. Control needs the run's edit token (X-Edit-Token); reading needs only its id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from blockprop.api.deps import ClientKey, EditToken, RunsDep, SettingsDep, StoreDep, graph_doc
from blockprop.api.errors import ApiError, not_found
from blockprop.api.schemas import (
    DatasetSpec,
    Graph,
    RunCreate,
    RunCreated,
    RunMetrics,
    RunRead,
    RunState,
    RunStep,
    RunUpdate,
    TrainConfig,
    errors,
)
from blockprop.api.schemas.common import INT64_MAX, created, locate
from blockprop.api.security import check_edit_token
from blockprop.service.runs import RunManager
from blockprop.service.store import RunRow, Store

router = APIRouter(tags=["runs"])

_ONE = "/api/runs/{run_id}"
_CONTROLS = ("pause", "resume", "step", "stop")
# From a created run to what can be done with it: documented as OpenAPI links.
_CREATED = created(
    "run_id",
    {
        "read": ("get", _ONE, False),
        "update": ("patch", _ONE, True),
        **{action: ("post", f"{_ONE}/{action}", True) for action in _CONTROLS},
        "metrics": ("get", f"{_ONE}/metrics", False),
        "state": ("get", f"{_ONE}/state", False),
        "graph": ("get", f"{_ONE}/graph", False),
    },
)


def run_read(row: RunRow, runs: RunManager | None = None) -> dict[str, Any]:
    """A run row as `RunRead`; with the manager, a queued run says where it stands."""
    queue = runs.queue_info(row.id) if runs is not None and row.status == "queued" else None
    return {
        "queue": queue,
        "id": row.id,
        "graph_id": row.graph_id,
        "name": row.name,
        "status": row.status,
        "live": row.live,
        "reason": row.reason,
        "error": row.error,
        "step": row.step,
        "epoch": row.epoch,
        "last_seq": row.last_seq,
        "diverged_node": row.diverged_node,
        "checkpoint_step": row.checkpoint_step,
        "dataset": row.dataset,
        "config": row.config,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "updated_at": row.updated_at,
    }


def experiment_of(doc: dict[str, Any], body: RunCreate) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dataset and training config a run uses: the body's, else the graph document's
    (the experiment travels with the graph). No dataset anywhere: 422 `invalid_request`."""
    if body.dataset is not None:
        dataset = body.dataset.model_dump()
    elif isinstance(doc.get("dataset"), dict):
        dataset = DatasetSpec.model_validate(doc["dataset"]).model_dump()
    else:
        raise ApiError(
            422, "invalid_request", "give `dataset`: the graph document names none to train on"
        )
    if body.train is not None:
        train = body.train.model_dump(exclude_unset=True)
    else:
        train = dict(doc.get("train") or {})
    return dataset, train


async def load_run(store: Store, run_id: str) -> RunRow:
    row = await asyncio.to_thread(store.get_run, run_id)
    if row is None:
        raise not_found("run", run_id)
    return row


async def _controlled(store: Store, run_id: str, token: str | None) -> RunRow:
    row = await load_run(store, run_id)
    check_edit_token(token, row.edit_hash, "run")
    return row


@router.post(
    "/runs",
    status_code=201,
    response_model=RunCreated,
    responses={**errors(404, 413, 422, 429), **_CREATED},
)
async def create_run(
    body: RunCreate,
    store: StoreDep,
    runs: RunsDep,
    settings: SettingsDep,
    client: ClientKey,
    response: Response,
) -> dict[str, Any]:
    """Start training a stored graph (`graph_id`) or an inline `graph` on a dataset with a
    training config. With both, the inline graph is trained (say, unsaved edits) and the run
    is listed among the stored graph's runs. Answers with the run's `edit_token` once the run
    is training (or paused, with `paused: true`) — or at once with status `queued` (and where
    it stands, `queue`) when the pool of workers has no room for it now: it starts by itself
    when room frees, as its stream says. 429 `too_many_runs` (with `Retry-After`) when this
    client already has its share of runs live or waiting (`X-Client-Id` names the client,
    else its address), or when the queue is full."""
    if body.graph is None and body.graph_id is None:
        raise ApiError(422, "invalid_request", "give `graph`, `graph_id` or both")
    if body.graph_id is not None:
        graph = await asyncio.to_thread(store.get_graph, body.graph_id)
        if graph is None:
            raise not_found("graph", body.graph_id)
        doc = graph.doc
    if body.graph is not None:
        doc = graph_doc(body.graph, settings)
    dataset, train = experiment_of(doc, body)
    row, token = await runs.create(
        doc=doc,
        graph_id=body.graph_id,
        dataset=dataset,
        train=train,
        name=body.name,
        paused=body.paused,
        client=client,
    )
    locate(response, f"/api/runs/{row.id}")
    return {**run_read(row, runs), "edit_token": token}


@router.get("/runs", response_model=list[RunRead], responses=errors(422))
async def list_runs(
    store: StoreDep,
    graph_id: str | None = Query(None, max_length=100, description="runs of this stored graph"),
    ids: str | None = Query(None, description="comma-separated run ids (e.g. this browser's)"),
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Runs, newest first: those filed under `graph_id` and those whose `ids` are given (at
    least one of the two). Like a run's id, a graph's id is the capability to read its runs."""
    wanted = [i for i in (ids or "").split(",") if i][:limit]
    if graph_id is None and not wanted:
        raise ApiError(422, "invalid_request", "give `graph_id` or `ids`")
    rows = await asyncio.to_thread(store.list_runs, graph_id, wanted, limit)
    return [run_read(row) for row in rows]


@router.get("/runs/{run_id}", response_model=RunRead, responses=errors(404))
async def read_run(run_id: str, store: StoreDep, runs: RunsDep) -> dict[str, Any]:
    """A run's status, progress, dataset and config (and, queued, where it stands)."""
    return run_read(await load_run(store, run_id), runs)


async def _reread(store: Store, run_id: str, runs: RunManager | None = None) -> dict[str, Any]:
    return run_read(await load_run(store, run_id), runs)


@router.post("/runs/{run_id}/pause", response_model=RunRead, responses=errors(403, 404, 409))
async def pause_run(run_id: str, store: StoreDep, runs: RunsDep, token: EditToken):
    """Pause between steps (a snapshot and a checkpoint are taken). A run held after diverging
    is returned unchanged: it is already waiting."""
    await _controlled(store, run_id, token)
    await runs.pause(run_id)
    return await _reread(store, run_id)


@router.post("/runs/{run_id}/resume", response_model=RunRead, responses=errors(403, 404, 409, 429))
async def resume_run(
    run_id: str, store: StoreDep, runs: RunsDep, token: EditToken, client: ClientKey
):
    """Resume a paused run or one held after diverging (it goes on from its last finite
    parameters, with the settings changed meanwhile: lower `lr` first), or restart an
    `interrupted` one (after a restart, or parked to free a place) from its last checkpoint,
    exactly; that is admitted as a new run is: `queued` while the pool has no room.
    Answers once the run is `running` (or queued)."""
    row = await _controlled(store, run_id, token)
    await runs.resume(row, client=client)
    return await _reread(store, run_id, runs)


@router.post("/runs/{run_id}/step", response_model=RunRead, responses=errors(403, 404, 409, 422))
async def step_run(
    run_id: str, store: StoreDep, runs: RunsDep, token: EditToken, body: RunStep | None = None
):
    """Run `n` steps (default 1), then pause: single-stepping for teaching. From a run held
    after diverging, the steps go on from its last finite parameters (status `paused`)."""
    await _controlled(store, run_id, token)
    await runs.step(run_id, body.n if body else 1)
    return await _reread(store, run_id)


@router.post("/runs/{run_id}/stop", response_model=RunRead, responses=errors(403, 404))
async def stop_run(run_id: str, store: StoreDep, runs: RunsDep, token: EditToken):
    """Stop the run (within a second); its trained state stays readable. A run held after
    diverging ends as `diverged` (its reason kept). Idempotent: a run that has already ended
    (`done`, `diverged`, …) is returned unchanged."""
    row = await _controlled(store, run_id, token)
    await runs.stop_run(row)
    return await _reread(store, run_id, runs)


@router.patch("/runs/{run_id}", response_model=RunRead, responses=errors(403, 404, 409, 422))
async def update_run(
    run_id: str, body: RunUpdate, store: StoreDep, runs: RunsDep, token: EditToken
):
    """Change settings while the run is live (training, paused, or held after diverging):
    the settings marked `x-live` in TrainConfig (`lr`, `momentum`, `l1`, `l2`, … from the
    next step on; `speed`, steps per second at most). The stored config records them."""
    row = await _controlled(store, run_id, token)
    values = body.model_dump(exclude_none=True)
    if not values:
        raise ApiError(
            422,
            "invalid_request",
            f"nothing to change: give one of {', '.join(RunUpdate.model_fields)}",
        )
    await runs.set(run_id, values)
    await asyncio.to_thread(store.update_run, run_id, config={**row.config, **values})
    return await _reread(store, run_id)


@router.get("/runs/{run_id}/metrics", response_model=RunMetrics, responses=errors(404))
async def run_metrics(
    run_id: str,
    store: StoreDep,
    since: int = Query(0, ge=0, le=INT64_MAX, description="only batches after this seq"),
    limit: int = Query(100_000, ge=1, le=1_000_000, description="batches at most"),
) -> Response:
    """The loss curve: every metric point after batch `since` (all by default), in order,
    and `last_seq`, the seq of the last batch included (continue from it with `since`)."""
    row = await load_run(store, run_id)
    batches = await asyncio.to_thread(store.metric_batches, run_id, since, None, limit)
    last = batches[-1][0] if batches else min(since, row.last_seq)
    points = b",".join(p[1:-1] for _, p in batches if len(p) > 2)
    body = b'{"run_id":%s,"last_seq":%d,"points":[%s]}' % (orjson.dumps(run_id), last, points)
    return Response(body, media_type="application/json")


@router.get("/runs/{run_id}/state", response_model=RunState, responses=errors(404))
async def run_state(run_id: str, store: StoreDep, runs: RunsDep) -> Response:
    """The trained parameters, by node and name (nested lists), as a graph's `state`:
    live from the worker, else from the last checkpoint (404 `no_state` before either).
    `normalized`: how the run normalised its input feed (`(x - mean) / std` per feature,
    training-split statistics), which a raw sample needs before it meets these parameters."""
    row = await load_run(store, run_id)
    found = await runs.trained_state(row)
    if found is None:
        raise ApiError(404, "no_state", "the run has no trained state yet")
    body = orjson.dumps(
        {
            "run_id": run_id,
            "step": found["step"],
            "state": found["state"],
            "normalized": found["normalized"],
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )
    return Response(body, media_type="application/json")


@router.get(
    "/runs/{run_id}/graph",
    response_model=Graph,
    response_model_exclude_unset=True,  # the document as stored, not filled with defaults
    responses=errors(404),
)
async def run_graph(
    run_id: str, store: StoreDep, runs: RunsDep, settings: SettingsDep
) -> dict[str, Any]:
    """The run as a graph document ("open this run as a graph"): the graph it trained, its
    trained `state` (live, else the last checkpoint; the document's own before either) with
    the `normalization` its inputs had, and its `dataset` and `train` settings — all a
    `POST /api/runs {"graph": …}` or `blockprop train` needs to train it again."""
    row = await load_run(store, run_id)
    doc = {k: v for k, v in row.doc.items() if k != "normalization"}
    found = await runs.trained_state(row)
    if found is not None:
        doc["state"] = found["state"]
        if found["normalized"]:
            doc["normalization"] = found["normalized"]
    doc["dataset"] = row.dataset
    doc["train"] = document_config(row.config, settings.max_steps)
    return doc


def document_config(config: dict[str, Any], server_max_steps: int) -> dict[str, Any]:
    """A run's recorded config as a document's `train`: the settings it was given (those
    that differ from their defaults), without the step cap this server filled in."""
    defaults = TrainConfig().model_dump()
    out = {k: v for k, v in config.items() if k in defaults and v != defaults[k]}
    if out.get("max_steps") == server_max_steps:
        del out["max_steps"]
    return out
