"""The frames of WS /api/runs/{id}/stream, server to client and client to server."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from blockprop.api.schemas.common import ErrorDetail, Reply, Request
from blockprop.api.schemas.runs import (
    LIVE_DOC,
    MetricPoint,
    QueuePlace,
    RunRead,
    RunStatus,
)
from blockprop.api.schemas.train import RunUpdate

# Not request or response bodies: the JSON frames of WS /api/runs/{id}/stream, documented
# here so the OpenAPI document (and the frontend's generated types) include them.


class Histogram(Reply):
    edges: list[float | None]
    counts: list[int]


class TensorSummary(Reply):
    """A tensor summarised for the screen (engine/summary.py)."""

    shape: list[int] = Field(description="per-sample shape (batched values) or full shape")
    batch: int | None = None
    nonfinite: int = 0
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    norm: float | None = None
    hist: Histogram
    data: Any = Field(default=None, description="the values (first sample) when small")
    matrix: list[list[float | None]] | None = Field(
        default=None, description="a small 2-D parameter in full, for heatmaps"
    )
    maps: list[list[list[int | None]]] | None = Field(
        default=None,
        description="the first sample's channel maps [C][h][w] of an image-like value "
        "[C ≤ 32, H, W] (H·W ≤ 1024), block-averaged to at most 16×16 (8×8 beyond 8 channels), "
        "as colour levels -99..99: v / max|v| over the maps, times 99, rounded (null: NaN or ∞)",
    )


class NodeSummary(Reply):
    value: TensorSummary
    grad: TensorSummary | None = None


class StreamHello(Reply):
    type: Literal["hello"]
    run_id: str
    run: RunRead
    status: RunStatus
    reason: str | None = None
    step: int
    seq: int = Field(description="seq of the last metrics batch that exists")
    since: int = Field(description="this connection sends metrics batches after this seq")
    can_control: bool
    subscription: dict[str, Any]


class StreamMetrics(Reply):
    type: Literal["metrics"]
    seq: int = Field(description="1, 2, 3, … per run, no gaps; resync with hello {since}")
    points: list[MetricPoint]


class StreamSnapshot(Reply):
    type: Literal["snapshot"]
    step: int
    epoch: int
    nodes: dict[str, NodeSummary] = Field(description='by value key ("node" or "node:port")')
    params: dict[str, dict[str, TensorSummary]]
    param_grads: dict[str, dict[str, TensorSummary]] = Field(default_factory=dict)


class BoundaryPoints(Reply):
    train: list[list[float]] = Field(description="[x0, x1, y] per sample ([x0, y]: a curve)")
    test: list[list[float]]


class StreamBoundary(Reply):
    type: Literal["boundary"]
    step: int
    x0: list[float]
    x1: list[float]
    z: list[list[float]] = Field(
        description="z[i][j]: prediction at (x0[j], x1[i]); a curve: z[0][j] at x0[j]"
    )
    kind: Literal["class", "value", "curve"] = Field(
        description="class (classification on 2 features), value (regression on 2), "
        "curve (regression on 1 feature: the fitted curve; x1 is empty)"
    )
    points: BoundaryPoints
    units: dict[str, list[list[list[float]]]] = Field(
        default_factory=dict,
        description="hidden node -> unit -> rows: each hidden unit's activation over a coarse "
        "lattice of the same plane (2 features; empty otherwise)",
    )


class StreamStatus(Reply):
    type: Literal["status"]
    status: RunStatus
    live: bool = Field(description=LIVE_DOC)
    reason: str | None = None
    step: int | None = None
    epoch: int | None = None
    diverged_node: str | None = None
    error: ErrorDetail | None = None
    queue: QueuePlace | None = Field(
        default=None, description="status queued: where the run stands in the queue"
    )


#: a client's id for a message, echoed by the frame that answers it
REQUEST_ID_DOC = "the client's id for the message it answers (when it gave one)"


class StreamError(Reply):
    """A message that was refused: invalid JSON, an unknown `type`, a bad field, or a control
    message without the edit token. The stream goes on."""

    type: Literal["error"]
    of: str | None = Field(default=None, description="the client message type it answers")
    id: str | None = Field(default=None, description=REQUEST_ID_DOC)
    error: ErrorDetail


class StreamAck(Reply):
    """A client message was done: `ack` for control messages and subscribe (with `values`
    for `set`: the settings as they now are), `auth` once the edit token was accepted."""

    type: Literal["ack", "auth"]
    of: str | None = Field(default=None, description="the client message type it answers")
    id: str | None = Field(default=None, description=REQUEST_ID_DOC)
    values: dict[str, Any] | None = Field(default=None, description="set: the live settings")
    can_control: bool | None = Field(default=None, description="auth: control is allowed")


ServerFrame = Annotated[
    StreamHello
    | StreamMetrics
    | StreamSnapshot
    | StreamBoundary
    | StreamStatus
    | StreamError
    | StreamAck,
    Field(discriminator="type"),
]


class ClientMessageBase(Request):
    id: str | None = Field(
        default=None,
        max_length=100,
        description="any id of the client's: the ack or error frame answering the message "
        "carries it",
    )


class ClientHello(ClientMessageBase):
    type: Literal["hello"]
    since: int | None = Field(default=None, ge=0, description="resend batches after this seq")


class ClientSubscribe(ClientMessageBase):
    type: Literal["subscribe"]
    nodes: list[str] | None = Field(default=None, max_length=10_000, description="null: every node")
    rate: float | None = Field(default=None, ge=0, description="snapshots per second")
    boundary: bool = True


class ClientAuth(ClientMessageBase):
    type: Literal["auth"]
    edit_token: str


class ClientControl(ClientMessageBase):
    type: Literal["pause", "resume", "stop"]


class ClientStep(ClientMessageBase):
    type: Literal["step"]
    n: int = Field(default=1, ge=1, le=1_000_000)


class ClientSet(RunUpdate):
    """Change live settings (the fields of RunUpdate)."""

    type: Literal["set"]
    id: str | None = ClientMessageBase.model_fields["id"]


#: every message a client may send, told apart by `type`: what the stream validates
ClientMessage = Annotated[
    ClientHello | ClientSubscribe | ClientAuth | ClientControl | ClientStep | ClientSet,
    Field(discriminator="type"),
]
CLIENT_MESSAGES: TypeAdapter[Any] = TypeAdapter(ClientMessage)


STREAM_MODELS: list[type[BaseModel]] = [
    StreamHello,
    StreamMetrics,
    StreamSnapshot,
    StreamBoundary,
    StreamStatus,
    StreamError,
    StreamAck,
    ClientHello,
    ClientSubscribe,
    ClientAuth,
    ClientControl,
    ClientStep,
    ClientSet,
]
