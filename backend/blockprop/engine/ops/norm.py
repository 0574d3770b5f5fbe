"""Normalisation layers: batch norm (per channel, over the batch) and layer norm (per sample,
over the last axis), each with a learnt scale gamma and shift beta, like PyTorch's.

Batch norm is the one op whose value depends on the other samples of the batch, and only
while training: then it normalises with the batch's mean and (biased) variance and moves
its running statistics (buffers, saved with the parameters) towards them; in evaluation it
normalises with the running statistics, an affine map. Its VJP follows the mode of the
forward it differentiates (the rule asks for ``training``).
"""

from __future__ import annotations

import numpy as np

from ..registry import Buffer, OpDef, Param, Sample, Trainable, expect

EPS_DOC = "added to the variance before the square root"


def _bn_shape(x):
    expect(len(x) >= 1, "x", "a [channels] vector or a [channels, *spatial] input", "a scalar")
    return x


def _channel(x):
    return (x[0],)


def _bn_axes(x: np.ndarray) -> tuple:
    """Every axis but the channels (axis 1): the batch and the spatial axes."""
    return (0, *range(2, x.ndim))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A (C,) vector shaped to broadcast along axis 1 of an ndim-array."""
    return v.reshape(1, -1, *(1,) * (ndim - 2))


def _bn_forward(
    x, gamma, beta, running_mean, running_var, xhat, istd, momentum, eps, training, out
):
    axes = _bn_axes(x)
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        n = x.size // x.shape[1]
        # the running variance is unbiased (n / (n - 1)), as in PyTorch
        unbiased = var * (n / (n - 1)) if n > 1 else var
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
        running_var *= 1.0 - momentum
        running_var += momentum * unbiased
    else:
        mean, var = running_mean, running_var
    inv = 1.0 / np.sqrt(var + eps)
    istd[0] = inv  # one row is enough: the same for every sample
    np.subtract(x, _per_channel(mean, x.ndim), out=xhat)
    xhat *= _per_channel(inv, x.ndim)
    r = np.multiply(xhat, _per_channel(gamma, x.ndim), out=out)
    r += _per_channel(beta, x.ndim)
    return r


def _bn_dx(g, xhat, istd, gamma, training, out):
    inv = _per_channel(istd[0], g.ndim)
    gg = g * _per_channel(gamma, g.ndim)
    if not training:  # running statistics are constants: an affine map
        return np.multiply(gg, inv, out=out)
    axes = _bn_axes(g)
    # the batch's mean and variance depend on x too: remove the parts along 1 and xhat
    mean_g = gg.mean(axis=axes, keepdims=True)
    mean_gx = (gg * xhat).mean(axis=axes, keepdims=True)
    r = np.subtract(gg, mean_g, out=out)
    r -= xhat * mean_gx
    r *= inv
    return r


def _bn_dgamma(g, xhat, out):
    return np.sum(g * xhat, axis=_bn_axes(g), out=out)


def _bn_dbeta(g, out):
    return np.sum(g, axis=_bn_axes(g), out=out)


# -- layer norm over the last axis


def _ln_shape(x):
    expect(len(x) >= 1, "x", "a vector (layer norm runs over the last axis)", "a scalar")
    return x


def _last(x):
    return (x[-1],)


def _ln_forward(x, gamma, beta, xhat, istd, eps, out):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    np.divide(1.0, np.sqrt(var + eps), out=istd)
    np.subtract(x, mean, out=xhat)
    xhat *= istd
    r = np.multiply(xhat, gamma, out=out)
    r += beta
    return r


def _ln_dx(g, xhat, istd, gamma, out):
    gg = g * gamma
    r = np.subtract(gg, gg.mean(axis=-1, keepdims=True), out=out)
    r -= xhat * (gg * xhat).mean(axis=-1, keepdims=True)
    r *= istd
    return r


def _sum_leading(a: np.ndarray, out):
    return np.sum(a.reshape(-1, a.shape[-1]), axis=0, out=out)


def _scale_shift(shape, shape_rule) -> list[Trainable]:
    return [
        Trainable("gamma", shape, shape_rule, init="ones", doc="scale"),
        Trainable("beta", shape, shape_rule, init="zeros", doc="shift"),
    ]


OPS = [
    OpDef(
        name="batch_norm",
        label="BatchNorm",
        category="function",
        doc="Normalises each channel (axis 0 of a sample) to zero mean and unit variance, "
        "then scales by gamma and shifts by beta. While training it uses the batch's "
        "statistics and updates running ones; in evaluation it uses the running ones.",
        inputs=[("x", "input [channels] or [channels, *spatial]")],
        params=[
            Param(
                "momentum",
                "float",
                0.1,
                min=0.0,
                max=1.0,
                doc="weight of each batch in the running statistics",
            ),
            Param("eps", "float", 1e-5, min=1e-12, max=1.0, doc=EPS_DOC),
        ],
        trainables=_scale_shift(_channel, "[channels]"),
        buffers=[
            Buffer("running_mean", _channel, "[channels]", 0.0, doc="running mean"),
            Buffer("running_var", _channel, "[channels]", 1.0, doc="running variance"),
        ],
        scratch={"xhat": lambda x: x, "istd": _channel},
        shape=_bn_shape,
        forward=_bn_forward,
        vjp={"x": _bn_dx, "gamma": _bn_dgamma, "beta": _bn_dbeta},
        torch="F.batch_norm({x}, {running_mean}, {running_var}, {gamma}, {beta}, "
        "self.training, {momentum}, {eps})",
        onnx=lambda ox, x, gamma, beta, running_mean, running_var, eps: ox.op(
            "BatchNormalization", x, gamma, beta, running_mean, running_var, epsilon=eps
        ),
        formula={
            "forward": r"z = \gamma \odot \hat x + \beta,\quad "
            r"\hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}",
            "backward": r"\frac{\partial C}{\partial x} = \frac{\gamma}{\sqrt{\sigma^2 + "
            r"\epsilon}} \odot \big(g - \overline{g} - \hat x\, \overline{g \hat x}\big)"
            r"\ \text{(training; } g \odot \gamma / \sqrt{\sigma^2 + \epsilon} \text{ in "
            r"evaluation)},\quad \frac{\partial C}{\partial \gamma} = \sum g \odot \hat x,"
            r"\quad \frac{\partial C}{\partial \beta} = \sum g"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@gamma \odot @xhat + @beta",
            # the statistics are matrices: outside \text{}, where KaTeX can typeset them
            "x": r"@gamma \odot @istd \odot @g \ \text{(evaluation: running statistics }"
            r"@running_mean, @running_var\text{)}",
            "gamma": r"@g \odot @xhat",
            "beta": "@g",
            "symbols": {
                "gamma": r"\gamma",
                "beta": r"\beta",
                "xhat": r"\hat x",
                "istd": r"\tfrac{1}{\sqrt{\sigma^2 + \epsilon}}",
                "running_mean": r"\mu_{\text{run}}",
                "running_var": r"\sigma^2_{\text{run}}",
            },
        },
        samples=[
            Sample({"x": (3,)}),
            Sample({"x": (2, 3, 3)}, {"momentum": 0.3}),
            Sample({"x": (2, 4)}, {"eps": 1e-3}),
        ],
    ),
    OpDef(
        name="layer_norm",
        label="LayerNorm",
        category="function",
        doc="Normalises each sample's last axis to zero mean and unit variance, then scales "
        "by gamma and shifts by beta (the same in training and evaluation).",
        inputs=[("x", "input (…, features)")],
        params=[Param("eps", "float", 1e-5, min=1e-12, max=1.0, doc=EPS_DOC)],
        trainables=_scale_shift(_last, "[features]"),
        scratch={"xhat": lambda x: x, "istd": lambda x: (*x[:-1], 1)},
        shape=_ln_shape,
        forward=_ln_forward,
        vjp={
            "x": _ln_dx,
            "gamma": lambda g, xhat, out: _sum_leading(g * xhat, out),
            "beta": lambda g, out: _sum_leading(g, out),
        },
        torch=lambda pt, x, gamma, beta, eps: (
            f"F.layer_norm({x}, ({pt.shapes['x'][-1]},), {gamma}, {beta}, {eps})"
        ),
        onnx=lambda ox, x, gamma, beta, eps: ox.op(
            "LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps
        ),
        formula={
            "forward": r"z = \gamma \odot \hat x + \beta,\quad "
            r"\hat x = \frac{x - \bar x}{\sqrt{\operatorname{var} x + \epsilon}}",
            "backward": r"\frac{\partial C}{\partial x} = \frac{1}{\sqrt{\operatorname{var} "
            r"x + \epsilon}} \big(\gamma g - \overline{\gamma g} - \hat x\, "
            r"\overline{\gamma g \hat x}\big),\quad \frac{\partial C}{\partial \gamma} = "
            r"g \odot \hat x,\quad \frac{\partial C}{\partial \beta} = g"
            r",\quad g = \frac{\partial C}{\partial z}",
        },
        explain={
            "forward": r"@gamma \odot @xhat + @beta",
            "x": r"@istd \big(@gamma @g - \overline{@gamma @g} - @xhat\, "
            r"\overline{@gamma @g @xhat}\big)",
            "gamma": r"@g \odot @xhat",
            "beta": "@g",
            "symbols": {
                "gamma": r"\gamma",
                "beta": r"\beta",
                "xhat": r"\hat x",
                "istd": r"\tfrac{1}{\sqrt{\operatorname{var} x + \epsilon}}",
            },
        },
        samples=[Sample({"x": (4,)}), Sample({"x": (2, 3)}, {"eps": 1e-3})],
    ),
]
