"""Training settings: `TrainConfig`, declared once — each field's type, default, bounds, doc,
label and whether it may change while a run trains (its `Setting`) — and checked on
construction from that declaration; the run statuses. The API's schemas, the CLI's flags and
the dock's settings form are generated from `setting_fields()`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, get_args, get_type_hints

import numpy as np

from blockprop.engine.optim import OPTIMIZERS
from blockprop.engine.schedules import SCHEDULES


class Status(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"


TERMINAL = frozenset({Status.DONE, Status.STOPPED, Status.DIVERGED, Status.FAILED})


def is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return (is_int(v) or isinstance(v, float | np.floating)) and math.isfinite(float(v))


@dataclass(frozen=True)
class Setting:
    """What one training setting is, beside its type and default: everything the API schema
    (`RunCreate.train`, `RunUpdate`), the CLI's flags and the dock's settings form are
    generated from. Bounds: `ge`/`gt` below, `le`/`lt` above (None: unbounded)."""

    doc: str
    label: str = ""
    group: str = "run"  # method | optimizer | schedule | regularization | run | graph
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    live: bool = False  # may change while the run trains (PATCH /api/runs/{id}, `set`)
    when: tuple[str, tuple[str, ...]] | None = None  # applies when that setting is one of those
    step: float | None = None  # the form's increment
    form: bool = True  # offered by the settings form (else kept, but not shown)
    form_default: Any = None  # the form's starting value when it differs from the default
    flag: str | None = ""  # CLI flag: "" → --the-name, None → none


def setting(default: Any, doc: str, **meta: Any) -> Any:
    """A TrainConfig field with its `Setting` as metadata."""
    return field(default=default, metadata={"setting": Setting(doc=doc, **meta)})


@dataclass
class TrainConfig:
    """Training settings, declared once. Invalid values raise `ValueError` naming the field.

    `input`, `target` and `output` name the graph's input node (fed the dataset's x), target
    node (fed y) and prediction node (used for accuracy and the decision boundary); each
    may be left out when the graph leaves no doubt (a single input / target node; the
    prediction is the non-target input of the cost reading the target).
    """

    epochs: int = setting(100, "passes over the training set", group="method", ge=0, le=1_000_000)
    batch_size: int | None = setting(
        None,
        "samples per step; null: the whole training set (full-batch gradient descent), "
        "1: SGD, k: mini-batch",
        label="batch size",
        group="method",
        ge=1,
        form_default=32,
    )
    optimizer: str = setting(
        "sgd", "how a step uses the gradient", group="optimizer", choices=tuple(OPTIMIZERS)
    )
    lr: float = setting(
        0.1,
        "learning rate (step size); can change while the run trains",
        label="learning rate",
        group="optimizer",
        gt=0,  # no upper bound: a huge rate is how one shows divergence
        live=True,
        step=0.001,
    )
    momentum: float = setting(
        0.9,
        "fraction of the previous update kept (optimizer momentum)",
        group="optimizer",
        ge=0,
        lt=1,
        live=True,
        when=("optimizer", ("momentum",)),
        step=0.05,
    )
    nesterov: bool = setting(
        False,
        "look-ahead momentum (optimizer momentum)",
        label="Nesterov",
        group="optimizer",
        when=("optimizer", ("momentum",)),
    )
    beta1: float = setting(
        0.9,
        "Adam: decay of the gradient's running mean",
        label="β₁",
        group="optimizer",
        ge=0,
        lt=1,
        when=("optimizer", ("adam",)),
        step=0.01,
    )
    beta2: float = setting(
        0.999,
        "Adam: decay of the squared gradient's running mean",
        label="β₂",
        group="optimizer",
        ge=0,
        lt=1,
        when=("optimizer", ("adam",)),
        step=0.001,
    )
    eps: float = setting(
        1e-8, "Adam: added to the denominator", group="optimizer", gt=0, form=False
    )
    schedule: str = setting(
        "constant",
        "the learning rate over the epochs",
        label="lr schedule",
        group="schedule",
        choices=tuple(SCHEDULES),
    )
    step_size: int = setting(
        10,
        "schedule step: epochs between decays",
        label="every (epochs)",
        group="schedule",
        ge=1,
        when=("schedule", ("step",)),
    )
    gamma: float = setting(
        0.5,
        "schedules step and exponential: lr is multiplied by γ at each decay",
        label="decay factor γ",
        group="schedule",
        gt=0,
        le=1,
        when=("schedule", ("step", "exponential")),
        step=0.05,
    )
    decay: float = setting(
        0.01,
        "schedule inv_t: lr / (1 + decay · epoch)",
        group="schedule",
        ge=0,
        when=("schedule", ("inv_t",)),
        step=0.01,
    )
    l1: float = setting(
        0.0,
        "L1 penalty: adds l1·sign(W) to the weights' gradient",
        label="L1",
        group="regularization",
        ge=0,
        live=True,
        step=0.0001,
    )
    l1_start: int = setting(
        0,
        "first epoch (0-based) with L1 on",
        label="L1 from epoch",
        group="regularization",
        ge=0,
        live=True,
    )
    l2: float = setting(
        0.0,
        "L2 penalty (weight decay): adds l2·W to the weights' gradient",
        label="L2",
        group="regularization",
        ge=0,
        live=True,
        step=0.0001,
    )
    l2_start: int = setting(
        0,
        "first epoch (0-based) with L2 on",
        label="L2 from epoch",
        group="regularization",
        ge=0,
        live=True,
    )
    dropout: float | None = setting(
        None,
        "overrides every dropout node's rate; null: as drawn",
        group="regularization",
        ge=0,
        lt=1,
        step=0.05,
    )
    shuffle: bool = setting(
        True, "reshuffle the training set every epoch (mini-batch and SGD)", group="method"
    )
    seed: int = setting(
        0, "seed of the initial weights, shuffling and dropout masks", ge=0, le=2**63 - 1
    )
    max_steps: int | None = setting(
        None,
        "stop (status done) after this many steps in total; null: after the epochs",
        ge=1,
        form=False,
    )
    eval_every: int = setting(
        1,
        "epochs between test-set evaluations",
        label="test every (epochs)",
        ge=1,
        live=True,
    )
    speed: float = setting(
        0.0,
        "steps per second at most, to watch it learn (0: as fast as it goes)",
        label="speed (steps/s)",
        ge=0,
        le=1e6,
        live=True,
        step=1,
        flag=None,  # headless training has nobody to watch it
    )
    dtype: str = setting(
        "float32",
        "the engine's floating-point precision",
        choices=("float32", "float64"),
        form=False,
    )
    input: str | None = setting(
        None,
        "the input node fed the dataset's x (left out: the only input node)",
        group="graph",
        form=False,
        flag="--input-node",
    )
    target: str | None = setting(
        None,
        "the target node fed the dataset's y (left out: the only target node)",
        group="graph",
        form=False,
        flag="--target-node",
    )
    output: str | None = setting(
        None,
        "the prediction node, for accuracy and the decision boundary (left out: the cost's "
        "other input)",
        group="graph",
        form=False,
        flag="--output-node",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, check_setting(f.name, getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> TrainConfig:
        """Build from a JSON-like dict; unknown keys raise ValueError naming them."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ValueError(f"a training config must be an object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(
                f"unknown training setting {', '.join(map(repr, unknown))} "
                f"(the settings: {', '.join(sorted(names))})"
            )
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SettingField:
    """One setting as the generators see it: name, base type, whether null is allowed,
    default and its `Setting`."""

    name: str
    type: type  # int | float | bool | str
    nullable: bool
    default: Any
    meta: Setting


def setting_fields() -> tuple[SettingField, ...]:
    """Every training setting, in declaration order, with its type read from the annotation."""
    hints = get_type_hints(TrainConfig)
    out = []
    for f in dataclasses.fields(TrainConfig):
        hint = hints[f.name]
        args = [a for a in get_args(hint) if a is not type(None)]
        base = args[0] if args else hint
        out.append(SettingField(f.name, base, bool(args), f.default, f.metadata["setting"]))
    return tuple(out)


def _bounds_text(m: Setting) -> str:
    parts = [f"{op} {_num(v)}" for op, v in (("≥", m.ge), (">", m.gt)) if v is not None]
    parts += [f"{op} {_num(v)}" for op, v in (("≤", m.le), ("<", m.lt)) if v is not None]
    return " and ".join(parts)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)


def _in_bounds(v: float, m: Setting) -> bool:
    return (
        (m.ge is None or v >= m.ge)
        and (m.gt is None or v > m.gt)
        and (m.le is None or v <= m.le)
        and (m.lt is None or v < m.lt)
    )


def check_setting(name: str, v: Any) -> Any:
    """`v` as setting `name` holds it (an integral float becomes an int, an int a float), or
    ValueError naming the setting and what it must be."""
    sf = _FIELDS[name]
    m = sf.meta
    if v is None and sf.nullable:
        return None
    bounds = _bounds_text(m)
    if sf.type is bool:
        ok, what = isinstance(v, bool), "true or false"
    elif sf.type is int:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        ok = is_int(v) and _in_bounds(v, m)
        what = "an integer" + (f" {bounds}" if bounds else "")
        v = int(v) if ok else v
    elif sf.type is float:
        ok = is_num(v) and _in_bounds(float(v), m)
        what = "a number" + (f" {bounds}" if bounds else "")
        v = float(v) if ok else v
    elif m.choices is not None:
        ok, what = isinstance(v, str) and v in m.choices, f"one of {', '.join(m.choices)}"
    else:  # a node id
        ok, what = isinstance(v, str) and 0 < len(v) <= 64, "a node id"
    if not ok:
        raise ValueError(f"{name} must be {what}, got {v!r}")
    return v


_FIELDS = {f.name: f for f in setting_fields()}

#: settings `Trainer.set` may change while training runs
LIVE_SETTINGS = tuple(f.name for f in setting_fields() if f.meta.live)
