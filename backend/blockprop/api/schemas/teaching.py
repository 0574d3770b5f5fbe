"""The classroom's deeper views (issue 17): both Jacobians of a block at one sample."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.graphs import Graph
from blockprop.api.schemas.runs import DatasetSpec


class JacobianRequest(Request):
    """Both Jacobians of one block at one sample: ∂z/∂(each input) and ∂z/∂(each parameter)."""

    graph: Graph
    node: str = Field(max_length=200, description="the block (node id; `m/l` inside a module)")
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="a batch of one sample by input/target id; missing feeds get defaults "
        "(as for explain)",
    )
    seed: int = Field(default=0, ge=0, description="seed for parameter initialisation")
    run_id: str | None = Field(
        default=None,
        max_length=64,
        description="take the trained parameters of this run (as for explain); `inputs` stay "
        "raw and are normalised like the run's training data",
    )
    run_step: int | None = Field(default=None, ge=0, description="as for explain")


class JacobianMatrix(Reply):
    kind: Literal["input", "parameter"]
    in_shape: list[int] = Field(description="per-sample shape of the input (or the parameter)")
    shape: list[int] = Field(
        description="[d_out, d_in]: rows the flattened output(s), "
        "columns the flattened input or parameter"
    )
    value: list[list[float]] = Field(description="the matrix, row by row")
    diagonal: bool = Field(description="square with nothing off the diagonal (pointwise blocks)")
    vjp: list[float] = Field(description="g·J as backward computes it (the VJP), flattened")


class JacobianResult(Reply):
    node: str
    op: str
    out_shape: list[Any] = Field(
        description="per-sample output shape (a list per output for blocks with several)"
    )
    d_out: int = Field(description="number of output entries (rows of every matrix)")
    g: list[float] = Field(description="dC/d(output) at this sample, flattened: g·J = vjp")
    wrt: dict[str, JacobianMatrix] = Field(
        description="input port or parameter name → its Jacobian; integer inputs (labels) and "
        "non-differentiable blocks have none"
    )
    run: dict[str, Any] | None = Field(default=None, description="with `run_id`: as for explain")


class LandscapeAxis(Request):
    """One scalar entry of a trainable parameter and the range it sweeps."""

    param: str = Field(max_length=200, description='"node.name", e.g. "lin.W"')
    index: list[int] = Field(
        default_factory=list, max_length=8, description="the entry's index; [] for a scalar"
    )
    range: list[float] = Field(min_length=2, max_length=2, description="[low, high]")


class LandscapeRequest(Request):
    """L(S, w) over two parameter entries, and the three descents' paths from one start."""

    graph: Graph
    dataset: DatasetSpec
    axes: list[LandscapeAxis] = Field(min_length=2, max_length=2)
    resolution: list[int] = Field(
        default=[51, 51], min_length=2, max_length=2, description="points per axis, 2 to 101 each"
    )
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="training settings for the paths (optimizer, lr, seed…); each path has "
        "its own batch size",
    )
    start: list[float] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="where the paths start (default: the initial values)",
    )
    steps: int = Field(default=50, ge=0, le=2000, description="steps each path takes")
    batch_size: int = Field(default=8, ge=1, le=100_000, description="the mini-batch's size")


class LandscapeResult(Reply):
    axes: list[dict[str, Any]]
    a: list[float] = Field(description="the first axis's values (columns of `loss`)")
    b: list[float] = Field(description="the second axis's values (rows of `loss`)")
    loss: list[list[float | None]] = Field(
        description="L(S, w) on the training set at each point (rows over b); null where not "
        "finite. Every other parameter stays at its starting value"
    )
    start: list[float]
    start_loss: float | None
    paths: dict[str, list[list[float]]] = Field(
        description="gd, sgd and minibatch: the two entries after each step, from `start`"
    )
    batch_sizes: dict[str, int]
