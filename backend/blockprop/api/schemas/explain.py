"""The classroom's explain mode: one sample through a graph, node by node."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.graphs import SPIRAL_GRAPH, Graph
from blockprop.api.schemas.runs import InputNormalization


class ExplainUpdate(Request):
    """One step of an optimiser after the explained batch (the training settings' names)."""

    optimizer: Literal["sgd", "momentum", "adam"] = "sgd"
    lr: float = Field(default=0.1, gt=0, le=1e6)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    nesterov: bool = False
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.999, ge=0, lt=1)
    eps: float = Field(default=1e-8, gt=0, le=1)


class ExplainRequest(Request):
    """One sample, or a mini-batch of P ≤ 16, through a graph, node by node."""

    graph: Graph
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="a batch of 1 to 16 samples by input/target id; missing feeds get defaults "
        "(inputs uniform in [-1, 1], float targets in [0, 1], class labels 0)",
    )
    sample: int = Field(
        default=0, ge=0, lt=16, description="which of the samples `nodes` walk node by node"
    )
    training: bool = Field(
        default=False,
        description="run as a training step: dropout draws its mask (shown in the node's `env`)",
    )
    update: ExplainUpdate | None = Field(
        default=None,
        description="add one step of this optimiser (from a fresh state) with the batch's "
        "mean gradient: its formula and the numbers, per parameter",
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


class ExplainPort(Reply):
    key: str = Field(description="the flat value key at this port of the block")
    value: Any = Field(description="the value for this sample")
    grad: Any = Field(default=None, description="dC/d(value)")


class ExplainBlock(Reply):
    """A module instance seen as one block (``nodes`` step into it)."""

    id: str
    module: str = Field(description="the module it is an instance of")
    tie: str | None = Field(default=None, description="the instance whose parameters it uses")
    nodes: list[str] = Field(description="its inner nodes (flat ids), in topological order")
    inputs: dict[str, ExplainPort] = Field(description="module input port → its value")
    outputs: dict[str, ExplainPort] = Field(description="module output port → its value")
    vjps: dict[str, Any] = Field(
        description="input port → the block's VJP: what its inner nodes send back to it"
    )
    readers: dict[str, list[ExplainConsumer]] = Field(
        default_factory=dict,
        description="input port → the inner nodes' ports that read it, at any depth: the "
        "contributions its VJP sums",
    )


class ExplainRun(Reply):
    """The trained parameters an explain used."""

    id: str = Field(description="the run")
    step: int = Field(description="the training step of the parameters")
    normalized: dict[str, InputNormalization] = Field(
        description="input id → the transform applied to the raw sample before it entered the "
        "graph (the run's training-split statistics); empty when the run did not normalise"
    )


class ExplainBatch(Reply):
    size: int = Field(description="P, the number of samples")
    sample: int = Field(description="the sample `nodes` walk")
    training: bool = Field(description="dropout ran as in a training step")
    param_grads: dict[str, dict[str, Any]] = Field(
        description="∂C_p/∂w of each sample p, by node and name (P rows each)"
    )


class ExplainParamUpdate(Reply):
    before: Any
    grad: Any = Field(description="∂L/∂w, the batch's mean gradient")
    after: Any
    state: dict[str, Any] = Field(description="the optimiser's state after the step (v, m…)")


class ExplainUpdateResult(Reply):
    method: Literal["sgd", "momentum", "nesterov", "adam"]
    formula: str = Field(description="the update in LaTeX, as the optimiser computes it")
    lr: float
    hyper: dict[str, Any] = Field(description="the optimiser's other settings")
    params: dict[str, dict[str, ExplainParamUpdate]]


class ExplainResult(Reply):
    loss: float | None = Field(
        description="L = (1/P) Σ_p C_p, the mean of `costs` (with one sample, C); null when "
        "the graph has no cost"
    )
    costs: list[float | None] = Field(
        default_factory=list, description="C_p of each sample (the sum of its costs)"
    )
    batch: ExplainBatch | None = None
    update: ExplainUpdateResult | None = None
    order: list[str] = Field(description="node ids in topological order")
    blocks: list[ExplainBlock] = Field(
        default_factory=list, description="module instances as whole blocks, parents first"
    )
    feeds: list[ExplainFeed] = Field(description="what the graph is fed")
    inputs: dict[str, Any] = Field(description="the sample fed (defaults filled in), batch of 1")
    nodes: list[ExplainNode] = Field(description="in topological order")
    state: dict[str, dict[str, Any]] = Field(description="parameters by node and name")
    param_grads: dict[str, dict[str, Any]] = Field(
        description="∂L/∂w by node and name: the mean of the samples' ∂C_p/∂w"
    )
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
