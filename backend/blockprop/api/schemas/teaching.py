"""The classroom's deeper views (issue 17): both Jacobians of a block at one sample."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from blockprop.api.schemas.common import Reply, Request
from blockprop.api.schemas.graphs import Graph


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
