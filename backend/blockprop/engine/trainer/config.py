"""Training settings: `TrainConfig` (checked on construction), the run statuses, and which
settings may change while a run trains."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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


@dataclass
class TrainConfig:
    """Training settings. Invalid values raise `ValueError` naming the field.

    `input`, `target` and `output` name the graph's input node (fed the dataset's x), target
    node (fed y) and prediction node (used for accuracy and the decision boundary); each
    may be left out when the graph leaves no doubt (a single input / target node; the
    prediction is the non-target input of the cost reading the target).
    """

    epochs: int = 100
    batch_size: int | None = None  # None: full batch (GD); 1: SGD; k: mini-batch
    optimizer: str = "sgd"  # "sgd" | "momentum" | "adam"
    lr: float = 0.1
    momentum: float = 0.9  # optimizer "momentum"
    nesterov: bool = False  # optimizer "momentum"
    beta1: float = 0.9  # optimizer "adam"
    beta2: float = 0.999
    eps: float = 1e-8
    schedule: str = "constant"  # "constant" | "step" | "exponential" | "inv_t" | "cosine"
    step_size: int = 10  # schedule "step": epochs between decays
    gamma: float = 0.5  # schedules "step" and "exponential": decay factor
    decay: float = 0.01  # schedule "inv_t": lr / (1 + decay·epoch)
    l1: float = 0.0
    l1_start: int = 0  # first epoch (0-based) with L1 on
    l2: float = 0.0
    l2_start: int = 0
    dropout: float | None = None  # overrides every dropout node's rate when set
    shuffle: bool = True
    seed: int = 0
    max_steps: int | None = None  # stop (status done) after this many steps in total
    eval_every: int = 1  # epochs between test evaluations
    speed: float = 0.0  # steps per second at most while running (0: as fast as it goes)
    dtype: str = "float32"  # "float32" | "float64"
    input: str | None = None
    target: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise ValueError(f"{name} must be {what}, got {getattr(self, name)!r}")

        def integer(name: str, lo: int, hi: int | None = None, nullable: bool = False) -> None:
            v = getattr(self, name)
            if v is None and nullable:
                return
            if isinstance(v, float) and v.is_integer():
                v = int(v)
                setattr(self, name, v)
            rng = f"an integer ≥ {lo}" + (f" and ≤ {hi}" if hi is not None else "")
            need(is_int(v) and v >= lo and (hi is None or v <= hi), name, rng)
            setattr(self, name, int(v))

        def number(
            name: str,
            lo: float,
            hi: float | None = None,
            lo_open: bool = False,
            hi_open: bool = False,
        ) -> None:
            v = getattr(self, name)
            ok = is_num(v) and (v > lo if lo_open else v >= lo)
            if hi is not None:
                ok = ok and (v < hi if hi_open else v <= hi)
            lo_s = f"{'>' if lo_open else '≥'} {lo}"
            hi_s = f" and {'<' if hi_open else '≤'} {hi}" if hi is not None else ""
            need(ok, name, f"a number {lo_s}{hi_s}")
            setattr(self, name, float(v))

        def boolean(name: str) -> None:
            need(isinstance(getattr(self, name), bool), name, "true or false")

        def node_id(name: str) -> None:
            v = getattr(self, name)
            need(v is None or (isinstance(v, str) and 0 < len(v) <= 64), name, "a node id")

        integer("epochs", 0, 1_000_000)
        integer("batch_size", 1, None, nullable=True)
        need(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        number("lr", 0.0, lo_open=True)
        number("momentum", 0.0, 1.0, hi_open=True)
        boolean("nesterov")
        number("beta1", 0.0, 1.0, hi_open=True)
        number("beta2", 0.0, 1.0, hi_open=True)
        number("eps", 0.0, lo_open=True)
        need(self.schedule in SCHEDULES, "schedule", f"one of {', '.join(SCHEDULES)}")
        integer("step_size", 1)
        number("gamma", 0.0, 1.0, lo_open=True)
        number("decay", 0.0)
        number("l1", 0.0)
        integer("l1_start", 0)
        number("l2", 0.0)
        integer("l2_start", 0)
        if self.dropout is not None:
            number("dropout", 0.0, 1.0, hi_open=True)
        boolean("shuffle")
        integer("seed", 0, 2**63 - 1)
        integer("max_steps", 1, None, nullable=True)
        integer("eval_every", 1)
        number("speed", 0.0)
        need(self.dtype in ("float32", "float64"), "dtype", "float32 or float64")
        for name in ("input", "target", "output"):
            node_id(name)

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


#: settings `Trainer.set` may change while training runs
LIVE_SETTINGS = ("lr", "momentum", "l1", "l2", "l1_start", "l2_start", "eval_every", "speed")
