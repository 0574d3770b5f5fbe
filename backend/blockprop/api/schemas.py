"""Wire types: the request and response bodies of the REST API, as pydantic models.

Request models forbid unknown fields and never carry server-owned fields (ids, edit tokens,
status, timestamps); Create / Update / Read models are kept apart. The frontend's TypeScript
types are generated from the OpenAPI document these produce (`python -m blockprop.api.openapi`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# --------------------------------------------------------------------------- shared


class Request(BaseModel):
    """Base of every request body: unknown fields are an error (422 invalid_request)."""

    model_config = ConfigDict(extra="forbid")


class Reply(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(description="a stable word: cycle, unknown_op, shape_mismatch, too_large…")
    message: str = Field(description="what went wrong, naming the node and port")
    nodes: list[str] = Field(default_factory=list, description="the nodes involved, if any")
    port: str | None = Field(default=None, description="the input port involved, if any")


class ErrorBody(BaseModel):
    """The one error shape every endpoint answers with."""

    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "cycle",
                        "message": "the graph has a cycle: a → b → a",
                        "nodes": ["a", "b"],
                        "port": None,
                    }
                }
            ]
        }
    )


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting the error shape for these statuses."""
    words = {
        401: "access token missing or wrong",
        403: "edit token missing or wrong, or a refused Origin",
        404: "no such resource",
        409: "conflict with the resource's current state",
        413: "request too large (body size, JSON depth, node count)",
        422: "invalid request (unknown or bad fields, invalid graph)",
        429: "too many live runs",
    }
    return {s: {"model": ErrorBody, "description": words.get(s, "error")} for s in statuses}


# --------------------------------------------------------------------------- graphs

# The id pattern is checked by the engine, which names the node in its error (bad_id).
NodeId = Annotated[
    str,
    Field(max_length=200, description="unique, [A-Za-z0-9_-]{1,64}", examples=["l1"]),
]

SPIRAL_GRAPH: dict[str, Any] = {
    "version": 1,
    "name": "spiral classifier",
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}, "ui": {"x": 40, "y": 120}},
        {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
        {"id": "l1", "op": "linear", "params": {"out_features": 16}, "inputs": {"x": "x"}},
        {"id": "h1", "op": "relu", "inputs": {"x": "l1"}},
        {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h1"}},
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
    ],
}


class Node(Request):
    """One block: an op, its params, where its inputs come from, and free layout data."""

    id: NodeId
    op: str = Field(max_length=64, description="an op name from GET /api/ops")
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(
        default_factory=dict, description='input port → "node" or "node:port"'
    )
    ui: dict[str, Any] = Field(default_factory=dict, description="layout; the engine ignores it")


class Graph(Request):
    """A graph document (version 1). See DESIGN.md "Graph document"."""

    version: Literal[1] = 1
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    nodes: list[Node]
    state: dict[str, dict[str, Any]] | None = Field(
        default=None, description="trained parameters by node and name (nested lists)"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [SPIRAL_GRAPH]})


class GraphCreate(Request):
    graph: Graph
    public: bool = Field(
        default=False, description="listed by GET /api/graphs (anyone can read it anyway by id)"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"graph": SPIRAL_GRAPH}]})


class GraphUpdate(Request):
    graph: Graph
    public: bool | None = None
    revision: int | None = Field(
        default=None,
        description="the revision this edit is based on; a newer stored revision gives 409",
    )


class GraphFork(Request):
    name: str | None = Field(default=None, max_length=200)


class GraphSummary(Reply):
    id: str
    name: str
    public: bool
    revision: int
    forked_from: str | None
    created_at: float
    updated_at: float
    node_count: int


class GraphRead(Reply):
    id: str
    name: str
    public: bool
    revision: int
    forked_from: str | None
    created_at: float = Field(description="Unix time, seconds")
    updated_at: float
    graph: dict[str, Any]


class GraphCreated(GraphRead):
    edit_token: str = Field(
        description="send it as X-Edit-Token to change or delete the graph; shown only once"
    )


# --------------------------------------------------------------------------- validate, evaluate


class ValidationIssue(Reply):
    code: str
    message: str
    nodes: list[str] = Field(default_factory=list)
    port: str | None = None


class ValidationResult(Reply):
    ok: bool
    order: list[str] = Field(description="the nodes in topological order")
    shapes: dict[str, Any] = Field(description="per-sample output shape of each node")
    errors: list[ValidationIssue]


class EvaluateRequest(Request):
    graph: Graph
    inputs: dict[str, Any] = Field(
        description="fed values by node id (input and target nodes), batch axis first"
    )
    seed: int = Field(default=0, ge=0, description="seed for parameter initialisation")
    backward: bool = Field(default=True, description="also compute gradients")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "graph": SPIRAL_GRAPH,
                    "inputs": {"x": [[0.5, -1.0], [1.0, 0.25]], "y": [0, 1]},
                    "seed": 0,
                    "backward": True,
                }
            ]
        }
    )


class EvaluateResult(Reply):
    loss: float | None
    values: dict[str, Any] = Field(description="every node's value, batch axis first")
    grads: dict[str, Any] = Field(description="dL/d(node value) for every node")
    param_grads: dict[str, dict[str, Any]] = Field(description="dL/dparameter by node and name")
    state: dict[str, dict[str, Any]] = Field(description="the parameters used, by node and name")


class GradcheckRequest(EvaluateRequest):
    keys: list[str] | None = Field(
        default=None,
        description='check only these items ("node", "node:port" or "node.param")',
    )
    tolerance: float = Field(default=1e-4, gt=0, description="the largest error that is ok")
    per_item: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="check at most this many elements of each item, drawn at random (seeded "
        "by `seed`): how a large weight matrix is checked within the server's limit",
    )


class GradcheckResult(Reply):
    errors: dict[str, float] = Field(
        description="max relative error between backprop and central differences, per item"
    )
    max_error: float
    ok: bool = Field(description="every error below tolerance")
    tolerance: float
    elements: dict[str, int] = Field(
        default_factory=dict, description="how many numbers each item holds"
    )
    checked: dict[str, int] = Field(
        default_factory=dict,
        description="how many of them were perturbed (fewer than `elements` with `per_item`)",
    )


# --------------------------------------------------------------------------- ops, datasets


class OpInput(Reply):
    name: str
    doc: str = ""


class OpOutput(Reply):
    name: str


class OpParam(Reply):
    name: str
    type: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: list[Any] | None = None
    doc: str = ""
    required: bool = False


class OpTrainable(Reply):
    name: str
    shape_rule: str


class OpFormula(Reply):
    forward: str
    backward: str


class OpExplain(Reply):
    """The op's rules as LaTeX templates for the classroom: `@name` stands for a value
    (`g` = dC/d output, `ans` = the output, or a port, param, parameter or scratch name);
    `@[ … @]` is dropped when a value inside it is absent. See engine.registry.check_explain."""

    forward: str | None = Field(default=None, description="right-hand side of y = …")
    vjp: dict[str, str] = Field(
        default_factory=dict, description="input or parameter → right-hand side of dC/d(it) = …"
    )
    symbols: dict[str, str] = Field(
        default_factory=dict, description="template name → LaTeX symbol, where not the name"
    )


class OpSpec(Reply):
    name: str
    label: str
    category: Literal["variable", "function", "cost"]
    doc: str
    inputs: list[OpInput]
    outputs: list[OpOutput]
    params: list[OpParam]
    parameters: list[OpTrainable]
    differentiable: bool
    formula: OpFormula
    explain: OpExplain = Field(default_factory=OpExplain)


class DatasetParam(Reply):
    name: str
    type: Literal["int", "float"]
    default: float | int | None = None
    min: float | None = None
    max: float | None = None
    doc: str = ""


class DatasetInfo(Reply):
    name: str
    title: str
    task: Literal["classification", "regression"]
    features: int
    classes: int | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="parameter defaults")
    param_spec: list[DatasetParam] = Field(default_factory=list)
    description: str = ""
    input_shape: list[int] = Field(default_factory=list, description="per-sample shape of x")
    source: str | None = None


class Normalization(Reply):
    active: bool
    mean: list[float]
    std: list[float]


class DatasetSample(Reply):
    """A preview of a dataset as the model sees it (inputs normalised)."""

    name: str
    title: str = ""
    task: Literal["classification", "regression"]
    features: int
    input_shape: list[int] = Field(default_factory=list)
    classes: int | None = None
    class_names: list[str] | None = None
    outputs: int = 1
    feature_names: list[str] = Field(default_factory=list)
    target_names: list[str] | None = None
    n_train: int
    n_test: int
    normalizer: Normalization | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    x: list[list[float]]
    y: list[Any] = Field(description="class labels (int) or targets (float, or a list each)")
    split: list[Literal["train", "test"]]


class DatasetUpload(Request):
    name: str = Field(default="upload", max_length=200)
    csv: str = Field(description="the CSV text; the first line may be a header")
    target: str | int | None = Field(
        default=None, description="target column name or index (default: the last column)"
    )
    task: Literal["classification", "regression"] | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "my data", "csv": "a,b,label\n0.1,0.2,0\n0.5,0.1,1\n"}]
        }
    )


class DatasetCreated(Reply):
    id: str = Field(description="use it as a dataset name in runs and GET /api/datasets/{name}")
    name: str
    task: str
    features: int
    classes: int | None = None
    rows: int


# --------------------------------------------------------------------------- examples


class ExampleSummary(Reply):
    id: str
    title: str
    description: str


class Example(ExampleSummary):
    graph: dict[str, Any]
    dataset: dict[str, Any] | None = None
    train: dict[str, Any] | None = None


# --------------------------------------------------------------------------- runs

RunStatus = Literal[
    "starting", "running", "paused", "done", "stopped", "diverged", "failed", "interrupted"
]


class DatasetSpec(BaseModel):
    """Which data to train on: a built-in dataset or an upload id, with its parameters.

    Besides the fields below, the dataset's own parameters (listed by GET /api/datasets,
    e.g. `turns` for spiral, `classes` for blobs) may be given as numbers; the dataset
    refuses ones it does not have. This is the `dataset` object of the examples as is.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"name": "spiral", "n": 400, "noise": 0.05}]},
    )

    name: str = Field(max_length=100, examples=["spiral"])
    n: int | None = Field(default=None, ge=2)
    noise: float | None = Field(default=None, ge=0)
    seed: int = Field(default=0, ge=0)
    test_fraction: float = Field(default=0.2, ge=0, lt=1)
    normalize: bool = True

    @model_validator(mode="after")
    def _numeric_extras(self) -> DatasetSpec:
        for key, value in (self.model_extra or {}).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"dataset parameter {key!r} must be a number")
        return self


class RunCreate(Request):
    graph_id: str | None = Field(
        default=None,
        description="a stored graph; with `graph` too, the run is listed under it",
    )
    graph: Graph | None = Field(
        default=None, description="an inline graph (trained instead of the stored one)"
    )
    dataset: DatasetSpec
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="the training config (TrainConfig): epochs, batch_size, optimizer, lr, …",
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


class RunUpdate(Request):
    """Settings that can change while a run trains."""

    lr: float | None = Field(default=None, gt=0, le=1e6)
    momentum: float | None = Field(default=None, ge=0, lt=1)
    l1: float | None = Field(default=None, ge=0)
    l2: float | None = Field(default=None, ge=0)
    speed: float | None = Field(
        default=None, ge=0, le=1e6, description="steps per second at most (0: as fast as it goes)"
    )


class RunStep(Request):
    n: int = Field(default=1, ge=1, le=1_000_000, description="steps to run, then pause")


LIVE_DOC = (
    "a worker holds the run: it can be paused, resumed, stepped and changed (true while "
    "starting, running or paused, and while diverged and held with its last finite parameters "
    "until it is resumed or stopped; false once the run has ended or is interrupted)"
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


class RunCreated(RunRead):
    edit_token: str = Field(description="send it as X-Edit-Token to control the run")


class MetricPoint(Reply):
    """One training step. The last step of an epoch also has `train_loss` and, on evaluation
    epochs, `test_loss` and (classification) `accuracy`."""

    step: int = Field(description="steps counted from 1")
    epoch: int = Field(description="the 1-based epoch the step belongs to")
    loss: float | None = Field(description="the batch loss (null if not finite)")
    lr: float
    grad_norm: float | None = None
    train_loss: float | None = None
    test_loss: float | None = None
    accuracy: float | None = None
    t: float | None = Field(default=None, description="Unix time the worker recorded it")


class RunMetrics(Reply):
    run_id: str
    last_seq: int
    points: list[MetricPoint] = Field(description="in step order")


class InputNormalization(Reply):
    """How a run normalised an input's feed: `(x - mean) / std` per feature (flattened), with
    training-split statistics."""

    mean: list[float]
    std: list[float]


class RunState(Reply):
    run_id: str
    step: int
    state: dict[str, dict[str, Any]] = Field(description="parameters by node and name")
    normalized: dict[str, InputNormalization] = Field(
        default_factory=dict,
        description="input node id → how the run normalised its feed (empty: not normalised); "
        "a raw sample goes through it before it meets these parameters",
    )


# --------------------------------------------------------------------------- stream frames
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


class StreamStatus(Reply):
    type: Literal["status"]
    status: RunStatus
    live: bool = Field(description=LIVE_DOC)
    reason: str | None = None
    step: int | None = None
    epoch: int | None = None
    diverged_node: str | None = None
    error: ErrorDetail | None = None


class StreamError(Reply):
    type: Literal["error"]
    of: str | None = Field(default=None, description="the client message type it answers")
    error: ErrorDetail


class StreamAck(Reply):
    type: Literal["ack", "auth"]
    of: str | None = None


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


class ClientHello(Request):
    type: Literal["hello"]
    since: int | None = Field(default=None, ge=0, description="resend batches after this seq")


class ClientSubscribe(Request):
    type: Literal["subscribe"]
    nodes: list[str] | None = Field(default=None, description="null: every node")
    rate: float | None = Field(default=None, ge=0, description="snapshots per second")
    boundary: bool = True


class ClientAuth(Request):
    type: Literal["auth"]
    edit_token: str


class ClientControl(Request):
    type: Literal["pause", "resume", "stop"]


class ClientStep(Request):
    type: Literal["step"]
    n: int = Field(default=1, ge=1, le=1_000_000)


class ClientSet(RunUpdate):
    type: Literal["set"]


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


# --------------------------------------------------------------------------- classroom: explain


class ExplainRequest(Request):
    """One sample through a graph, node by node (the classroom's explain mode)."""

    graph: Graph
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="a batch of one sample by input/target id; missing feeds get defaults "
        "(inputs uniform in [-1, 1], float targets in [0, 1], class labels 0)",
    )
    seed: int = Field(default=0, ge=0, description="seed for parameter initialisation")
    run_id: str | None = Field(
        default=None,
        max_length=64,
        description="explain with this run's trained parameters (live from its worker, else "
        "its last checkpoint) instead of the graph's `state` or `seed`; they must fit the "
        "graph's trainable parameters exactly (422 `state_mismatch`). `inputs` stay raw: when "
        "the run normalised its inputs, the server applies the same transform (see `run`)",
    )
    run_step: int | None = Field(
        default=None,
        ge=0,
        description="with `run_id`: the step an earlier answer's `run.step` named. The server "
        "keeps the last few trained states it explained with, so the same numbers come back "
        "(a follower replaying the teacher's sample); when it no longer has them, the run's "
        "current parameters are used and `run.step` says which",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"graph": SPIRAL_GRAPH, "inputs": {"x": [[0.5, -1.0]], "y": [1]}},
                {
                    "graph": SPIRAL_GRAPH,
                    "inputs": {"x": [[0.5, -1.0]], "y": [1]},
                    "run_id": "k3J9x2AbQm",
                },
            ]
        }
    )


class ExplainFeed(Reply):
    id: str
    role: Literal["input", "target"]
    shape: list[int] = Field(description="per-sample shape")
    dtype: Literal["float", "int"]


class ExplainConsumer(Reply):
    node: str
    port: str


class ExplainOutput(Reply):
    port: str
    key: str = Field(description='value key: "node" or "node:port"')
    value: Any = Field(description="the value for this sample")
    grad: Any = Field(default=None, description="dC/d(value), summed over its consumers")
    consumers: list[ExplainConsumer] = Field(description="who reads this value (and sends back)")


class ExplainNode(Reply):
    id: str
    op: str
    category: Literal["variable", "function", "cost"]
    sources: dict[str, str] = Field(description="input port → value key it reads")
    outputs: list[ExplainOutput]
    env: dict[str, Any] = Field(
        description="the values the op's explain templates name (ports, params, scratch, "
        "`g`, `ans`); trainable parameters are in `state`"
    )
    vjps: dict[str, Any] = Field(
        description="input port → this node's local result dC/d(input) (its contribution; "
        "fan-out sums the contributions)"
    )


class ExplainRun(Reply):
    """The trained parameters an explain used."""

    id: str = Field(description="the run")
    step: int = Field(description="the training step of the parameters")
    normalized: dict[str, InputNormalization] = Field(
        description="input id → the transform applied to the raw sample before it entered the "
        "graph (the run's training-split statistics); empty when the run did not normalise"
    )


class ExplainResult(Reply):
    loss: float | None = Field(description="C for this sample (the sum of the costs)")
    order: list[str] = Field(description="node ids in topological order")
    feeds: list[ExplainFeed] = Field(description="what the graph is fed")
    inputs: dict[str, Any] = Field(description="the sample fed (defaults filled in), batch of 1")
    nodes: list[ExplainNode] = Field(description="in topological order")
    state: dict[str, dict[str, Any]] = Field(description="parameters by node and name")
    param_grads: dict[str, dict[str, Any]] = Field(description="dC/dparameter by node and name")
    run: ExplainRun | None = Field(
        default=None,
        description="with `run_id`: the run, the step of its parameters, and the normalisation "
        "applied to `inputs` (which stay raw; the input nodes' values are the normalised ones)",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loss": 0.0412,
                    "order": ["x", "y", "l1", "h1", "l2", "c"],
                    "feeds": [
                        {"id": "x", "role": "input", "shape": [2], "dtype": "float"},
                        {"id": "y", "role": "target", "shape": [], "dtype": "int"},
                    ],
                    "inputs": {"x": [[0.5, -1.0]], "y": [1]},
                    "nodes": [
                        {
                            "id": "x",
                            "op": "input",
                            "category": "variable",
                            "sources": {},
                            "outputs": [
                                {
                                    "port": "out",
                                    "key": "x",
                                    "value": [0.81, -1.62],
                                    "grad": [0.03, -0.01],
                                    "consumers": [{"node": "l1", "port": "x"}],
                                }
                            ],
                            "env": {"ans": [0.81, -1.62], "g": [0.03, -0.01]},
                            "vjps": {},
                        }
                    ],
                    "state": {"l1": {"W": "…", "b": "…"}, "l2": {"W": "…", "b": "…"}},
                    "param_grads": {"l1": {"W": "…", "b": "…"}, "l2": {"W": "…", "b": "…"}},
                    "run": {
                        "id": "k3J9x2AbQm",
                        "step": 1200,
                        "normalized": {"x": {"mean": [0.02, -0.05], "std": [0.6, 0.59]}},
                    },
                }
            ]
        }
    )


# --------------------------------------------------------------------------- classroom: sessions


class ExplainPosition(Request):
    """Where the teacher is in explain mode; followers replay it on the same sample."""

    inputs: dict[str, Any] = Field(default_factory=dict, description="the sample (batch of 1)")
    seed: int = Field(default=0, ge=0)
    step: int = Field(default=0, ge=0, description="position in the walk (forward, backward)")
    node: str | None = Field(default=None, description="the node at that step (a hint)")
    playing: bool = False
    speed: float = Field(default=1.0, gt=0, le=100, description="steps per second")
    param: str | None = Field(default=None, description='"node.param" for the update step')
    lr: float = Field(default=0.1, description="η of the update step")
    run_id: str | None = Field(
        default=None, max_length=64, description="the run whose trained parameters are explained"
    )
    run_step: int | None = Field(
        default=None, ge=0, description="the step of those parameters (`run.step` of the answer)"
    )


class SessionView(Request):
    """What followers mirror besides the graph. Every field is optional."""

    explain: ExplainPosition | None = None
    gradcheck: dict[str, Any] | None = Field(
        default=None, description="the teacher's last gradient-check result (badges)"
    )
    run_id: str | None = Field(default=None, max_length=64, description="a run to watch")
    selected: str | None = Field(default=None, max_length=64)
    present: bool = False
    backward_graph: bool = Field(default=False, description="the transformed graph is shown")


class SessionCreate(Request):
    graph: Graph
    view: SessionView = Field(default_factory=SessionView)


class SessionUpdate(Request):
    graph: Graph | None = None
    view: SessionView | None = None


class SessionRead(Reply):
    id: str
    graph: dict[str, Any]
    view: dict[str, Any]
    version: int = Field(description="bumps on every change")
    graph_version: int = Field(description="bumps when the graph changes")
    followers: int = Field(description="WebSocket followers connected now")
    created: float
    updated: float


class SessionCreated(SessionRead):
    edit_token: str = Field(description="needed (X-Edit-Token) to change or end the session")
    follow_path: str = Field(description="the page students open: /follow/{id}")
