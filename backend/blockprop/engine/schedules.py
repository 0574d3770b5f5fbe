"""Learning-rate schedules, as functions of the epoch.

The learning rate used for every step of epoch t (t = 0, 1, 2, ...) is `lr · factor(t)`,
where lr is the base rate (which may be changed live) and factor is one of:

==============  ===============================================  =============================
name            factor(t)                                        sequence for lr = 1
==============  ===============================================  =============================
constant        1                                                1, 1, 1, ...
step            gamma ** floor(t / step_size)                    step_size=2, gamma=0.5:
                                                                 1, 1, .5, .5, .25, .25, ...
exponential     gamma ** t                                       gamma=0.5: 1, .5, .25, ...
inv_t           1 / (1 + decay · t)                              decay=1: 1, 1/2, 1/3, 1/4, ...
cosine          (1 + cos(π · min(t, T) / T)) / 2, T = epochs     T=4: 1, .854, .5, .146, (0)
==============  ===============================================  =============================

Schedules are per epoch, not per step, so the same settings mean the same thing whatever
the batch size (full batch, SGD or mini-batch); with full-batch training an epoch is one
step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

SCHEDULES: dict[str, str] = {
    "constant": "lr",
    "step": "lr · gamma^floor(t / step_size)",
    "exponential": "lr · gamma^t",
    "inv_t": "lr / (1 + decay · t)",
    "cosine": "lr · (1 + cos(π · t / epochs)) / 2",
}


def _constant(t: int, **_: float) -> float:
    return 1.0


def _step(t: int, *, step_size: int, gamma: float, **_: float) -> float:
    return gamma ** (t // step_size)


def _exponential(t: int, *, gamma: float, **_: float) -> float:
    return gamma**t


def _inv_t(t: int, *, decay: float, **_: float) -> float:
    return 1.0 / (1.0 + decay * t)


def _cosine(t: int, *, epochs: int, **_: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * min(t, epochs) / epochs))


_FACTORS: dict[str, Callable[..., float]] = {
    "constant": _constant,
    "step": _step,
    "exponential": _exponential,
    "inv_t": _inv_t,
    "cosine": _cosine,
}


class Schedule:
    """`Schedule(name, epochs=..., step_size=..., gamma=..., decay=...)(t)` → factor(t).

    Raises ValueError naming the bad argument.
    """

    def __init__(
        self,
        name: str = "constant",
        *,
        epochs: int = 100,
        step_size: int = 10,
        gamma: float = 0.5,
        decay: float = 0.01,
    ) -> None:
        if name not in _FACTORS:
            raise ValueError(f"schedule must be one of {', '.join(_FACTORS)}, not {name!r}")
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"step_size must be an integer ≥ 1, got {step_size!r}")
        if not (0.0 < gamma <= 1.0):
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        if not (decay >= 0.0 and math.isfinite(decay)):
            raise ValueError(f"decay must be ≥ 0, got {decay!r}")
        if not (isinstance(epochs, int) and epochs >= 1):
            raise ValueError(f"epochs must be an integer ≥ 1, got {epochs!r}")
        self.name = name
        self._f = _FACTORS[name]
        self._kw = {"epochs": epochs, "step_size": step_size, "gamma": gamma, "decay": decay}

    def __call__(self, epoch: int) -> float:
        return self._f(epoch, **self._kw)

    def sequence(self, lr: float, n: int) -> list[float]:
        """The learning rates of epochs 0..n-1 for base rate `lr`."""
        return [lr * self(t) for t in range(n)]

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, {', '.join(f'{k}={v}' for k, v in self._kw.items())})"


def lr_sequence(name: str, lr: float, n: int, **kw: float) -> list[float]:
    """Shorthand: `Schedule(name, **kw).sequence(lr, n)`."""
    return Schedule(name, **kw).sequence(lr, n)
