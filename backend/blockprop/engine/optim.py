"""Optimisers on plain NumPy arrays, updated in place without per-step allocation.

Each optimiser holds parallel lists of parameter arrays and gradient arrays (the live
buffers of a compiled plan: the gradients are read after each backward pass) and one
scratch buffer per parameter. A plan packs its parameters and gradients into one flat buffer
each (`buffers`): the scratch and the state are then packed alike and every operation of an
update is one call over the whole buffer. `step(lr)` applies one update:

- SGD:      p ← p − lr·g
- momentum: v ← μ·v + g;  p ← p − lr·v                (PyTorch's convention; v starts at 0)
            Nesterov: p ← p − lr·(g + μ·v)  with the updated v
- Adam:     m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  k ← k + 1
            p ← p − lr/(1−β1^k) · m / (√v/√(1−β2^k) + ε)   (as torch.optim.Adam)

The state (`state_dict()`) is a flat dict of arrays so it can go into an .npz checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .buffers import pack_like, span

OPTIMIZERS = ("sgd", "momentum", "adam")


class Optimizer:
    name = "sgd"
    slots: tuple[str, ...] = ()

    def __init__(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        if len(params) != len(grads):
            raise ValueError("params and grads must pair up")
        for p, g in zip(params, grads, strict=True):
            if p.shape != g.shape:
                raise ValueError(f"parameter of shape {p.shape} has a gradient of shape {g.shape}")
        self.params = list(params)
        self.grads = list(grads)
        # Packed parameters and gradients (as a compiled plan lays them out) are updated in
        # one call per operation over their flat buffers: the scratch and the state are then
        # packed the same way. Element-wise updates give the same numbers either way.
        self._flat_params = span(self.params)
        self._flat_grads = span(self.grads) if self._flat_params is not None else None
        self._flat_scratch, self.scratch = pack_like(self.params)
        self._flat_state: dict[str, np.ndarray] = {}
        self.state: dict[str, list[np.ndarray]] = {}
        for slot in self.slots:
            flat, self.state[slot] = pack_like(self.params)
            if flat is not None:
                self._flat_state[slot] = flat
        self._packed = None if self._flat_grads is None else self._packed_lists(self._flat_grads)
        self.t = 0  # updates applied

    @property
    def flat_state(self) -> dict[str, np.ndarray] | None:
        """The state's slots as flat buffers when the parameters are packed, else None."""
        return self._flat_state if self._flat_params is not None else None

    def _packed_lists(self, flat_grads: np.ndarray) -> tuple[list, list, list, dict]:
        return (
            [self._flat_params],
            [flat_grads],
            [self._flat_scratch],
            {k: [v] for k, v in self._flat_state.items()},
        )

    def _lists(self, grads: Sequence[np.ndarray] | None) -> tuple[list, list, list, dict]:
        """(params, grads, scratch, state) to loop over: one flat buffer each when the
        parameters and these gradients are packed alike, else the per-array lists."""
        if grads is None or grads is self.grads:
            if self._packed is not None:
                return self._packed
            return self.params, self.grads, self.scratch, self.state
        same = len(grads) == len(self.grads) and all(
            a is b for a, b in zip(grads, self.grads, strict=True)
        )
        if same and self._packed is not None:
            return self._packed
        if self._flat_params is not None and [g.shape for g in grads] == [
            p.shape for p in self.params
        ]:
            flat_g = span(grads)
            if flat_g is not None:
                return self._packed_lists(flat_g)
        return self.params, list(grads), self.scratch, self.state

    def step(self, lr: float, grads: Sequence[np.ndarray] | None = None) -> None:
        """One update with learning rate `lr`, reading `grads` (default: the gradient
        buffers given at construction; a trainer passes another plan's buffers for a
        smaller last batch)."""
        ps, gs, ss, _ = self._lists(grads)
        for p, g, s in zip(ps, gs, ss, strict=True):
            np.multiply(g, lr, out=s)
            p -= s
        self.t += 1

    # ---- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {f"{slot}/{i}": a for slot, arrs in self.state.items() for i, a in enumerate(arrs)}
        out["t"] = np.array(self.t, dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for slot, arrs in self.state.items():
            for i, a in enumerate(arrs):
                src = state[f"{slot}/{i}"]
                if src.shape != a.shape:
                    raise ValueError(f"optimiser slot {slot}/{i}: shape {src.shape} ≠ {a.shape}")
                a[...] = src
        self.t = int(state["t"])


class SGD(Optimizer):
    name = "sgd"


class Momentum(Optimizer):
    name = "momentum"
    slots = ("v",)

    def __init__(self, params, grads, *, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(params, grads)
        self.momentum = momentum
        self.nesterov = nesterov

    def step(self, lr: float, grads: Sequence[np.ndarray] | None = None) -> None:
        mu = self.momentum
        ps, gs, ss, state = self._lists(grads)
        for p, g, s, v in zip(ps, gs, ss, state["v"], strict=True):
            v *= mu
            v += g
            if self.nesterov:
                np.multiply(v, mu, out=s)
                s += g
                s *= lr
            else:
                np.multiply(v, lr, out=s)
            p -= s
        self.t += 1


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")

    def __init__(
        self, params, grads, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(params, grads)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def step(self, lr: float, grads: Sequence[np.ndarray] | None = None) -> None:
        b1, b2 = self.beta1, self.beta2
        self.t += 1
        bc1 = 1.0 - b1**self.t
        rbc2 = 1.0 / math.sqrt(1.0 - b2**self.t)
        step = lr / bc1
        ps, gs, ss, state = self._lists(grads)
        for p, g, s, m, v in zip(ps, gs, ss, state["m"], state["v"], strict=True):
            m *= b1
            np.multiply(g, 1.0 - b1, out=s)
            m += s
            v *= b2
            np.multiply(g, g, out=s)
            s *= 1.0 - b2
            v += s
            np.sqrt(v, out=s)
            s *= rbc2
            s += self.eps
            np.divide(m, s, out=s)
            s *= step
            p -= s


#: each method's update in LaTeX, as :meth:`Optimizer.step` computes it (η the learning rate,
#: g = ∂L/∂w the batch's mean gradient, k the update's number); the classroom shows these
FORMULAS: dict[str, str] = {
    "sgd": r"w \leftarrow w - \eta\, g",
    "momentum": r"v \leftarrow \mu v + g,\quad w \leftarrow w - \eta\, v",
    "nesterov": r"v \leftarrow \mu v + g,\quad w \leftarrow w - \eta\, (g + \mu v)",
    "adam": r"m \leftarrow \beta_1 m + (1 - \beta_1) g,\quad "
    r"v \leftarrow \beta_2 v + (1 - \beta_2) g^2,\quad "
    r"w \leftarrow w - \frac{\eta}{1 - \beta_1^k} \frac{m}{\sqrt{v / (1 - \beta_2^k)} + \epsilon}",
}


def method_of(name: str, nesterov: bool = False) -> str:
    """The update's name in :data:`FORMULAS`: momentum with ``nesterov`` is "nesterov"."""
    return "nesterov" if name == "momentum" and nesterov else name


def make_optimizer(
    name: str,
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    *,
    momentum: float = 0.9,
    nesterov: bool = False,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> Optimizer:
    if name == "sgd":
        return SGD(params, grads)
    if name == "momentum":
        return Momentum(params, grads, momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return Adam(params, grads, beta1=beta1, beta2=beta2, eps=eps)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
