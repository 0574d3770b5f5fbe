"""Costs: a scalar per sample. The loss of a batch is the mean over samples of their sum.

Each cost's gradient ``g`` arrives with shape ``(B,)`` (1/B per sample when nothing
consumes the cost); :func:`~blockprop.engine.kernels.per_sample` spreads it over a sample.
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels as K
from ..registry import OpDef, Port, Sample, expect, fmt_shape, labels, onehot, probs, signs
from .activations import log_softmax, sigmoid

_scalar = ()


def _same_as_y(y, target):
    expect(target == y, "target", f"the same shape as y {fmt_shape(y)}", target)
    return _scalar


def _n(a):
    return math.prod(a.shape[1:])


# -- squared error and its mean


def _se_forward(y, target, diff, out, scale=1.0):
    d = np.subtract(y, target, out=diff)
    if d.size == len(d):  # one element per sample
        r = np.square(d.reshape(-1), out=out)
        if scale != 1.0:
            r *= scale
        return r
    sq = np.square(d)
    if sq.ndim != 2:
        sq = sq.reshape(len(sq), -1)
    return np.dot(sq, K.filled(sq.shape[1], sq.dtype, scale), out=out)  # scaled row sums


def _se_grad(g, diff, out, scale):
    r = np.multiply(diff, g[:, None] if diff.ndim == 2 else K.per_sample(g, diff.ndim), out=out)
    r *= scale
    return r


# -- cross-entropy from logits, with integer labels or a distribution over classes


def _ce_shape(logits, target, dtypes):
    expect(len(logits) == 1, "logits", "a vector of class scores", logits or "a scalar")
    if dtypes["target"] == "int":
        expect(target == (), "target", "one integer class label per sample (shape [])", target)
    else:
        expect(
            target == logits,
            "target",
            f"a one-hot or probability vector shaped like the logits {fmt_shape(logits)} "
            "(or integer labels)",
            target,
        )
    return _scalar


def _ce_forward(logits, target, probs, out):
    # C = log sum_k exp(s_k) - s_label with s = z - max(z); keeps softmax(z) for backward
    s = np.subtract(logits, logits.max(axis=1, keepdims=True), out=probs)
    if target.dtype.kind == "f":
        t_s, t_sum = K.sum_sample(target * s), K.sum_sample(target)
    else:
        picked = s[K.rows(len(s)), target]
    e = np.exp(s, out=probs)
    se = e.sum(axis=1)
    e /= se[:, None]
    lse = np.log(se)
    if target.dtype.kind == "f":  # -sum_k t_k (s_k - lse)
        return np.subtract(lse * t_sum, t_s, out=out)
    return np.subtract(lse, picked, out=out)


def _ce_dlogits(g, target, probs, out):
    if target.dtype.kind == "f":  # (softmax * sum(t) - t) g
        r = np.multiply(probs, K.sum_sample(target)[:, None], out=out)
        r -= target
        r *= g[:, None]
        return r
    r = np.multiply(probs, g[:, None], out=out)  # (softmax - onehot(label)) g
    r[K.rows(len(r)), target] -= g
    return r


def _neg_times(a, g, out):
    r = np.multiply(a, K.per_sample(g, a.ndim), out=out)
    return np.negative(r, out=r)


# -- negative log-likelihood of log-probabilities


def _nll_shape(logp, target):
    expect(len(logp) == 1, "logp", "a vector of log-probabilities", logp or "a scalar")
    expect(target == (), "target", "one integer class label per sample (shape [])", target)
    return _scalar


def _nll_dlogp(g, logp, target, out):
    r = np.zeros_like(logp) if out is None else out
    r.fill(0.0)
    r[K.rows(len(r)), target] = -g
    return r


# -- binary cross-entropy from logits, elementwise, summed over the sample


def _bce_forward(logits, target, out):
    z = logits
    # max(z, 0) - z t + log(1 + exp(-|z|)): never overflows
    loss = np.maximum(z, 0.0) - z * target + np.log1p(np.exp(-np.abs(z)))
    return K.sum_sample(loss, out)


def _bce_dlogits(g, logits, target, out):
    r = sigmoid(logits, out)
    r -= target
    r *= K.per_sample(g, r.ndim)
    return r


# -- hinge (targets in {-1, +1}) and L1


def _hinge_forward(y, target, out):
    return K.sum_sample(np.maximum(0.0, 1.0 - y * target), out)


def _hinge_grad(g, y, target, out, wrt_y):
    active = (y * target) < 1.0
    r = np.multiply(target if wrt_y else y, active, out=out)
    r *= K.per_sample(g, r.ndim)
    return np.negative(r, out=r)


def _l1_grad(g, y, target, out, sign):
    r = np.sign(np.subtract(y, target, out=out), out=out)
    r *= K.per_sample(g, r.ndim)
    if sign < 0:
        np.negative(r, out=r)
    return r


def _pair(name):
    return [Port(name, "prediction ȳ", label="ȳ"), Port("target", "desired output y", label="y")]


# -- export (PyTorch source, ONNX nodes): see registry.check_export


def _se_onnx(ox, y, target, mean=False):
    d = ox.op("Sub", y, target)
    return ox.sum_sample(ox.op("Mul", d, d), "y", mean)


def _pick(ox, logp, target):
    """logp[b, target[b]] for each sample b."""
    idx = ox.op("Unsqueeze", target, ox.ints([1]))
    return ox.op("Squeeze", ox.op("GatherElements", logp, idx, axis=1), ox.ints([1]))


def _ce_onnx(ox, logits, target):
    logp = ox.op("LogSoftmax", logits, axis=-1)
    if ox.dtypes["target"] == "int":
        return ox.op("Neg", _pick(ox, logp, target))
    return ox.op("Neg", ox.sum_sample(ox.op("Mul", target, logp), "logits"))


def _bce_onnx(ox, logits, target):
    # max(z, 0) - z t + log(1 + exp(-|z|)), as the engine computes it
    z = logits
    r = ox.op("Sub", ox.op("Relu", z), ox.op("Mul", z, target))
    r = ox.op("Add", r, ox.op("Softplus", ox.op("Neg", ox.op("Abs", z))))
    return ox.sum_sample(r, "logits")


def _hinge_onnx(ox, y, target):
    margin = ox.op("Sub", ox.const(1.0), ox.op("Mul", y, target))
    return ox.sum_sample(ox.op("Relu", margin), "y")


SAME_SAMPLES = [
    Sample({"y": (3,), "target": (3,)}),
    Sample({"y": (), "target": ()}),
    Sample({"y": (2, 2), "target": (2, 2)}),
]

OPS = [
    OpDef(
        name="squared_error",
        label="Squared error",
        category="cost",
        doc="Squared Euclidean distance between the prediction ȳ and the desired output y: "
        "C(y, ȳ) = ‖ȳ − y‖².",
        inputs=_pair("y"),
        scratch={"diff": lambda y: y},
        shape=_same_as_y,
        forward=_se_forward,
        vjp={
            "y": lambda g, diff, out: _se_grad(g, diff, out, 2.0),
            "target": lambda g, diff, out: _se_grad(g, diff, out, -2.0),
        },
        formula={
            "forward": r"C(y, \bar y) = \lVert \bar y - y \rVert^2",
            "backward": r"\frac{\partial C}{\partial \bar y} = 2 (\bar y - y)\, g,\quad "
            r"\frac{\partial C}{\partial y} = -2 (\bar y - y)\, g"
            r",\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": r"\lVert @y - @target \rVert^2",
            "y": r"2\, (@y - @target)\, @g",
            "target": r"-2\, (@y - @target)\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "y": r"\bar y",
            },
        },
        torch=lambda pt, y, target: pt.sum_sample(f"({y} - {target}) ** 2", "y"),
        onnx=_se_onnx,
        samples=SAME_SAMPLES,
    ),
    OpDef(
        name="mse",
        label="Mean squared error",
        category="cost",
        doc="Mean over the sample's elements of the squared difference between the prediction "
        "ȳ and the desired output y: C(y, ȳ) = ‖ȳ − y‖² / n.",
        inputs=_pair("y"),
        scratch={"diff": lambda y: y},
        shape=_same_as_y,
        forward=lambda y, target, diff, out: _se_forward(y, target, diff, out, 1.0 / _n(y)),
        vjp={
            "y": lambda g, diff, out: _se_grad(g, diff, out, 2.0 / _n(diff)),
            "target": lambda g, diff, out: _se_grad(g, diff, out, -2.0 / _n(diff)),
        },
        formula={
            "forward": r"C(y, \bar y) = \frac{1}{n} \lVert \bar y - y \rVert^2",
            "backward": r"\frac{\partial C}{\partial \bar y} = \frac{2}{n} (\bar y - y)\, g,\quad "
            r"\frac{\partial C}{\partial y} = -\frac{2}{n} (\bar y - y)\, g"
            r",\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": r"\tfrac{1}{n} \lVert @y - @target \rVert^2",
            "y": r"\tfrac{2}{n}\, (@y - @target)\, @g",
            "target": r"-\tfrac{2}{n}\, (@y - @target)\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "y": r"\bar y",
            },
        },
        torch=lambda pt, y, target: pt.sum_sample(f"({y} - {target}) ** 2", "y", mean=True),
        onnx=lambda ox, y, target: _se_onnx(ox, y, target, mean=True),
        samples=SAME_SAMPLES,
    ),
    OpDef(
        name="cross_entropy",
        label="Cross-entropy",
        category="cost",
        doc="Softmax cross-entropy from logits, with an integer class label or a "
        "one-hot / probability vector as target. Computed stably (log-sum-exp).",
        inputs=[
            ("logits", "class scores z (the prediction is ȳ = softmax(z))"),
            Port("target", "desired class label or distribution y", "any", label="y"),
        ],
        scratch={"probs": lambda logits: logits},
        shape=_ce_shape,
        forward=_ce_forward,
        vjp={
            "logits": _ce_dlogits,
            "target": lambda g, logits, out: _neg_times(log_softmax(logits), g, out),
        },
        formula={
            "forward": r"C(y, \bar y) = -\sum_k y_k \log \bar y_k "
            r"= -z_y + \log \sum_k e^{z_k},\quad \bar y = \mathrm{softmax}(z)",
            "backward": r"\frac{\partial C}{\partial z} = (\bar y - y)\, g"
            r",\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": r"\log \textstyle\sum_k \exp({@logits}_k) - {@logits}_{@target}",
            "logits": r"(@probs - \mathrm{onehot}(@target))\, @g",
            "target": r"-\log \mathrm{softmax}(@logits)\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "logits": "z",
                "probs": r"\mathrm{softmax}(z)",
            },
        },
        # integer labels or, since torch 1.10, class probabilities
        torch='F.cross_entropy({logits}, {target}, reduction="none")',
        onnx=_ce_onnx,
        samples=[
            Sample({"logits": (4,), "target": labels(4)}),
            Sample({"logits": (3,), "target": onehot(3)}),
            Sample({"logits": (3,), "target": probs(3)}),
            Sample({"logits": (1,), "target": labels(1)}),
        ],
    ),
    OpDef(
        name="nll",
        label="Negative log-likelihood",
        category="cost",
        doc="Negative log-probability of the true class, from log-probabilities "
        "(e.g. a log-softmax) and an integer label.",
        inputs=[
            ("logp", "log-probabilities log ȳ"),
            Port("target", "desired class label y", "int", label="y"),
        ],
        shape=_nll_shape,
        forward=lambda logp, target, out: np.negative(logp[K.rows(len(logp)), target], out=out),
        vjp={"logp": _nll_dlogp},
        formula={
            "forward": r"C(y, \bar y) = -\log \bar y_y",
            "backward": r"\frac{\partial C}{\partial \log \bar y_k} = -[k = y]\, g"
            r",\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": "-{@logp}_{@target}",
            "logp": r"-\mathrm{onehot}(@target)\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "logp": r"\log \bar y",
            },
        },
        torch='F.nll_loss({logp}, {target}, reduction="none")',
        onnx=lambda ox, logp, target: ox.op("Neg", _pick(ox, logp, target)),
        samples=[Sample({"logp": (4,), "target": labels(4)})],
    ),
    OpDef(
        name="binary_cross_entropy",
        label="Binary cross-entropy",
        category="cost",
        doc="Binary cross-entropy from logits, summed over the sample's elements; targets "
        "in [0, 1]. Computed stably.",
        inputs=[
            ("logits", "scores z before a sigmoid (the prediction is ȳ = σ(z))"),
            Port("target", "desired probability y", label="y"),
        ],
        shape=lambda logits, target: _same_as_y(logits, target),
        forward=_bce_forward,
        vjp={
            "logits": _bce_dlogits,
            "target": lambda g, logits, out: _neg_times(logits, g, out),
        },
        formula={
            "forward": r"C(y, \bar y) = -\sum_i y_i \log \bar y_i + (1 - y_i) \log(1 - \bar y_i) "
            r"= \sum_i \max(z_i, 0) - z_i y_i + \log(1 + e^{-|z_i|})",
            "backward": r"\frac{\partial C}{\partial z} = (\sigma(z) - y)\, g,\quad "
            r"\frac{\partial C}{\partial y} = -z\, g,\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": r"\textstyle\sum_i \max({@logits}_i, 0) - {@logits}_i {@target}_i "
            r"+ \log(1 + e^{-|{@logits}_i|})",
            "logits": r"(\sigma(@logits) - @target) \odot @g",
            "target": r"-@logits\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "logits": "z",
            },
        },
        torch=lambda pt, logits, target: pt.sum_sample(
            f'F.binary_cross_entropy_with_logits({logits}, {target}, reduction="none")', "logits"
        ),
        onnx=_bce_onnx,
        samples=[
            Sample({"logits": (3,), "target": probs(3)}),
            Sample({"logits": (), "target": probs()}),
        ],
    ),
    OpDef(
        name="hinge",
        label="Hinge",
        category="cost",
        doc="Hinge loss for desired outputs y in {−1, +1}: C(y, ȳ) = Σ max(0, 1 − y ȳ).",
        inputs=[
            Port("y", "prediction ȳ", label="ȳ"),
            Port("target", "desired output y, −1 or +1", binary_labels="signs", label="y"),
        ],
        shape=_same_as_y,
        forward=_hinge_forward,
        vjp={
            "y": lambda g, y, target, out: _hinge_grad(g, y, target, out, True),
            "target": lambda g, y, target, out: _hinge_grad(g, y, target, out, False),
        },
        formula={
            "forward": r"C(y, \bar y) = \sum_i \max(0, 1 - y_i \bar y_i)",
            "backward": r"\frac{\partial C}{\partial \bar y} = -y \odot [y \bar y < 1]\, g,\quad "
            r"\frac{\partial C}{\partial y} = -\bar y \odot [y \bar y < 1]\, g"
            r"\ (\text{none at the kink } y \bar y = 1),\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": r"\textstyle\sum_i \max(0,\ 1 - {@target}_i {@y}_i)",
            "y": r"-@target \odot [@target \odot @y < 1]\, @g",
            "target": r"-@y \odot [@target \odot @y < 1]\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "y": r"\bar y",
            },
        },
        # relu, not clamp: no gradient at the kink (y ȳ = 1), like the engine
        torch=lambda pt, y, target: pt.sum_sample(f"torch.relu(1 - {y} * {target})", "y"),
        onnx=_hinge_onnx,
        samples=[
            Sample({"y": (3,), "target": signs(3)}),
            Sample({"y": (), "target": signs()}),
        ],
    ),
    OpDef(
        name="l1",
        label="L1",
        category="cost",
        doc="Sum of absolute differences between the prediction ȳ and the desired output y: "
        "C(y, ȳ) = ‖ȳ − y‖₁.",
        inputs=_pair("y"),
        shape=_same_as_y,
        forward=lambda y, target, out: K.sum_sample(np.abs(y - target), out),
        vjp={
            "y": lambda g, y, target, out: _l1_grad(g, y, target, out, 1),
            "target": lambda g, y, target, out: _l1_grad(g, y, target, out, -1),
        },
        formula={
            "forward": r"C(y, \bar y) = \sum_i |\bar y_i - y_i|",
            "backward": r"\frac{\partial C}{\partial \bar y} = \operatorname{sign}(\bar y - y)\, g"
            r"\ (\operatorname{sign} 0 = 0),\quad g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": r"\textstyle\sum_i |{@y}_i - {@target}_i|",
            "y": r"\operatorname{sign}(@y - @target)\, @g",
            "target": r"-\operatorname{sign}(@y - @target)\, @g",
            "symbols": {
                "ans": "c",
                "g": r"\frac{\partial C}{\partial c}",
                "target": "y",
                "y": r"\bar y",
            },
        },
        torch=lambda pt, y, target: pt.sum_sample(f"({y} - {target}).abs()", "y"),
        onnx=lambda ox, y, target: ox.sum_sample(ox.op("Abs", ox.op("Sub", y, target)), "y"),
        samples=SAME_SAMPLES,
    ),
]
