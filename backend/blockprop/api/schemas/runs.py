"""Training runs: creating and controlling them, their status, metrics and trained state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.datasets import DatasetSpec, InputNormalization
from blockprop.api.schemas.graphs import SPIRAL_GRAPH, Graph
from blockprop.api.schemas.train import TrainConfig

RunStatus = Literal[
    "queued",
    "starting",
    "running",
    "paused",
    "done",
    "stopped",
    "diverged",
    "failed",
    "interrupted",
]


class RunCreate(Request):
    graph_id: str | None = Field(
        default=None,
        description="a stored graph; with `graph` too, the run is listed under it",
    )
    graph: Graph | None = Field(
        default=None, description="an inline graph (trained instead of the stored one)"
    )
    dataset: DatasetSpec | None = Field(
        default=None, description="what to train on (left out: the graph document's `dataset`)"
    )
    train: TrainConfig | None = Field(
        default=None,
        description="the training config (left out: the graph document's `train`); settings "
        "left out take their default",
    )
    name: str = Field(default="", max_length=200)
    paused: bool = Field(default=False, description="start paused (then step or resume)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "graph": SPIRAL_GRAPH,
                    "dataset": {"name": "spiral", "n": 400, "noise": 0.05, "seed": 1},
                    "train": {"epochs": 200, "batch_size": 32, "optimizer": "adam", "lr": 0.01},
                }
            ]
        }
    )


class RunStep(Request):
    n: int = Field(default=1, ge=1, le=1_000_000, description="steps to run, then pause")


LIVE_DOC = (
    "a worker holds the run: it can be paused, resumed, stepped and changed (true while "
    "starting, running or paused, and while diverged and held with its last finite parameters "
    "until it is resumed or stopped; false once the run has ended or is interrupted)"
)


class QueuePlace(Reply):
    """Where a `queued` run stands."""

    position: int = Field(description="1: it starts next")
    ahead: int = Field(description="runs waiting before it")
    eta_seconds: float | None = Field(
        description="about when it may start (when enough live runs have ended), if foreseeable"
    )


class RunRead(Reply):
    id: str
    graph_id: str | None
    name: str
    status: RunStatus
    live: bool = Field(description=LIVE_DOC)
    reason: str | None = None
    error: dict[str, Any] | None = None
    step: int
    epoch: int
    last_seq: int = Field(description="seq of the last metrics batch")
    diverged_node: str | None = Field(
        default=None,
        description="status diverged: the first node (in topological order) holding a "
        "non-finite value or gradient",
    )
    checkpoint_step: int | None = Field(description="step of the last checkpoint, if any")
    dataset: dict[str, Any]
    config: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    queue: QueuePlace | None = Field(
        default=None, description="status queued: where it stands in the queue"
    )


class RunCreated(RunRead):
    edit_token: str = Field(description="send it as X-Edit-Token to control the run")


class MetricPoint(Reply):
    """One training step. The last step of an epoch also has `train_loss` and, on evaluation
    epochs, `full_loss`, `test_loss` and (classification) `accuracy`."""

    step: int = Field(description="steps counted from 1")
    epoch: int = Field(description="the 1-based epoch the step belongs to")
    loss: float | None = Field(description="the batch loss (null if not finite)")
    lr: float
    grad_norm: float | None = None
    train_loss: float | None = Field(
        default=None,
        description="the epoch's mean of batch losses (the parameters moved meanwhile)",
    )
    full_loss: float | None = Field(
        default=None,
        description="on evaluation epochs: L(S, w), the loss on the whole training split with "
        "the parameters at the epoch's end (dropout off; L1/L2 penalties are not part of it)",
    )
    test_loss: float | None = None
    accuracy: float | None = None
    t: float | None = Field(default=None, description="Unix time the worker recorded it")


class RunMetrics(Reply):
    run_id: str
    last_seq: int
    points: list[MetricPoint] = Field(description="in step order")


class RunState(Reply):
    run_id: str
    step: int
    state: dict[str, dict[str, Any]] = Field(description="parameters by node and name")
    normalized: dict[str, InputNormalization] = Field(
        default_factory=dict,
        description="input node id → how the run normalised its feed (empty: not normalised); "
        "a raw sample goes through it before it meets these parameters",
    )
