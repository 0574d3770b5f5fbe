"""Graph documents (nodes, the example spiral graph) and the stored-graph bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.datasets import DatasetSpec, InputNormalization
from blockprop.api.schemas.train import TrainConfig

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


class Module(Request):
    """A module: a sub-graph used as one block (``{"op": "module", "params": {"module":
    name, "tie"?: instance}}``). Its nodes read the module's inputs by port name; an
    instance's inner values, gradients and parameters are addressed ``<instance>/<inner id>``."""

    inputs: list[str] = Field(default_factory=list, description="input port names")
    outputs: dict[str, str] = Field(
        description='output port → inner "node" or "node:port" (or an input, passed through)'
    )
    nodes: list[Node]


class Graph(Request):
    """A graph document (version 1). See DESIGN.md "Graph document"."""

    version: Literal[1] = 1
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    nodes: list[Node]
    modules: dict[str, Module] | None = Field(
        default=None, description="named sub-graphs that nodes of op 'module' instantiate"
    )
    state: dict[str, dict[str, Any]] | None = Field(
        default=None, description="trained parameters by node and name (nested lists)"
    )
    # The experiment travels with the graph (all optional; the engine ignores them).
    dataset: DatasetSpec | None = Field(
        default=None, description="what it trains on (a run's `dataset`)"
    )
    train: TrainConfig | None = Field(
        default=None, description="how it trains (a run's `train`; left-out settings: default)"
    )
    normalization: dict[str, InputNormalization] | None = Field(
        default=None,
        description="input node id → the training data's per-feature mean and std (set once "
        "trained): a raw sample becomes `(x - mean) / std` before it meets `state`",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [SPIRAL_GRAPH]})


#: a graph document in an answer, passed through as stored, and typed in the OpenAPI document
#: as the `Graph` schema (the marker is replaced by a $ref to it there) so that generated
#: clients get the document's type
GRAPH_MARK = "x-blockprop-graph"
GraphDocument = Annotated[dict[str, Any], WithJsonSchema({"type": "object", GRAPH_MARK: True})]


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
    graph: GraphDocument


class GraphCreated(GraphRead):
    edit_token: str = Field(
        description="send it as X-Edit-Token to change or delete the graph; shown only once"
    )
