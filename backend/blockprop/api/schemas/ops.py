"""The op catalogue of GET /api/ops: an op's ports, params, formulas and explain templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from blockprop.api.schemas.common import Reply


class OpInput(Reply):
    name: str
    doc: str = ""
    label: str = Field(
        default="",
        description="how the port is written on the block (the notes' notation): a cost's "
        "prediction port reads ȳ, its target y",
    )
    dtype: Literal["float", "int", "any"] = Field(
        default="float", description="what the port accepts: float values, int labels or any"
    )


class OpOutput(Reply):
    name: str


class OpParam(Reply):
    name: str
    type: str = Field(
        description="int | ints | float | bool | str | shape | tensor; `ints` is a whole "
        "number or a list with one per spatial axis (`axes` of them), as PyTorch's kernel_size"
    )
    default: Any = None
    min: float | None = Field(default=None, description="lower bound (of each entry for ints)")
    max: float | None = Field(default=None, description="upper bound (of each entry for ints)")
    choices: list[Any] | None = None
    doc: str = ""
    required: bool = False
    axes: int | None = Field(
        default=None, description="type ints: the number of entries a list must have"
    )


class OpTrainable(Reply):
    name: str
    shape_rule: str


class OpBuffer(Reply):
    """Non-trainable state an op keeps (batch norm's running statistics): carried by the
    graph's state, checkpoints and exports, updated by training forwards, never by the
    optimiser."""

    name: str
    shape_rule: str
    fill: float = Field(description="the value every entry starts from")
    doc: str = ""


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
    source: Literal["input", "target"] | None = Field(
        default=None, description="the dataset side that feeds this variable: x or y"
    )
    inputs: list[OpInput]
    outputs: list[OpOutput]
    params: list[OpParam]
    parameters: list[OpTrainable]
    buffers: list[OpBuffer] = Field(
        default_factory=list, description="non-trainable state (running statistics)"
    )
    differentiable: bool
    notation: Literal["observed", "trainable", "fixed", "function", "cost"] = Field(
        default="function",
        description="how the notes draw it: observed data (shaded circle), a trainable "
        "variable (a parameter node), a fixed value (a constant: not data), a function block "
        "or a cost",
    )
    formula: OpFormula
    explain: OpExplain = Field(default_factory=OpExplain)
