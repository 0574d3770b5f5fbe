"""Bodies of validate, evaluate and gradcheck: a graph checked, run once, checked numerically."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.graphs import SPIRAL_GRAPH, Graph


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


class GraphFeeds(Request):
    """A graph and what it is fed: the body of /api/gradcheck and, with its options, of
    /api/evaluate."""

    graph: Graph
    inputs: dict[str, Any] = Field(
        description="fed values by node id (input and target nodes), batch axis first; "
        "without `backward`, targets may be left out (the nodes needing them are too)"
    )
    seed: int = Field(default=0, ge=0, description="seed for parameter initialisation")
    backward: bool = Field(default=True, description="also compute gradients")
    training: bool = Field(
        default=False,
        description="the training-mode forward: dropout on (masks drawn from `seed`), batch "
        "norm on the batch's statistics (moving its running statistics)",
    )

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


class EvaluateRequest(GraphFeeds):
    """A graph, its feeds, and what to answer (every value in float64 by default)."""

    outputs: list[str] | None = Field(
        default=None,
        max_length=10_000,
        description='only these values (and gradients): "node" or "node:port"; null: all',
    )
    dtype: Literal["float32", "float64"] = Field(
        default="float64", description="the precision to compute in"
    )


class EvaluateResult(Reply):
    loss: float | None
    values: dict[str, Any] = Field(description="every node's value, batch axis first")
    grads: dict[str, Any] = Field(description="dL/d(node value) for every node")
    param_grads: dict[str, dict[str, Any]] = Field(description="dL/dparameter by node and name")
    state: dict[str, dict[str, Any]] = Field(
        description="the parameters used and the buffers (running statistics), by node and name"
    )


class GradcheckRequest(GraphFeeds):
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
