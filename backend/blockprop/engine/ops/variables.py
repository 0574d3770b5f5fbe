"""Variables: observed data (inputs and targets), explicit parameters and constants."""

from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..registry import INIT_CHOICES, OpDef, Param, Sample, Trainable, expect

SHAPE_DOC = "per-sample shape (no batch axis); [] for a scalar"


def _static_shape(shape):
    return tuple(shape)


def _parameter_forward(value, batch, out):
    # Every sample sees the same array. Copied into a plain (batch, *shape) buffer on each
    # pass, not handed out as a zero-stride view: values are writable, C-contiguous arrays
    # like every other node's (serialisers, summaries and in-place kernels rely on that).
    if out is None:
        out = np.empty((batch, *value.shape), value.dtype)
    np.copyto(out, value)
    return out


def _constant_forward(value, batch, float_dtype, out):
    arr = np.asarray(value, dtype=float_dtype)
    if out is None:
        out = np.empty((batch, *arr.shape), float_dtype)
    np.copyto(out, arr)
    return out


def _constant_shape(value):
    shape = np.shape(value)
    expect(len(shape) <= 8, None, "at most 8 dimensions", shape)
    return shape


OPS = [
    OpDef(
        name="input",
        label="Input",
        category="variable",
        doc="An observed input x: one array per sample, fed from the data set.",
        source="input",
        forward=None,
        params=[
            Param("shape", "shape", [1], doc=SHAPE_DOC),
            Param(
                "dtype",
                "str",
                "float",
                choices=("float", "int"),
                doc="real numbers, or integer ids (for an embedding)",
            ),
        ],
        shape=_static_shape,
        dtype=lambda dtype: dtype,
        formula={
            "forward": r"x = x^{(p)} \quad \text{(sample } p \text{ of the data)}",
            "backward": r"\frac{\partial C}{\partial x} = \sum_{u \in \text{uses}} g_u"
            r",\quad g_u = \text{what use } u \text{ sends back}",
        },
        torch=lambda pt: pt.fed,
        onnx=lambda ox: ox.fed,
        samples=[Sample({}, {"shape": [3]}), Sample({}, {"shape": [2, 2]})],
    ),
    OpDef(
        name="target",
        label="Target",
        category="variable",
        doc="An observed desired output y (the model's prediction is ȳ): real values, or "
        "integer class labels "
        "(dtype int, shape []).",
        source="target",
        forward=None,
        params=[
            Param("shape", "shape", [1], doc=SHAPE_DOC),
            Param(
                "dtype",
                "str",
                "float",
                choices=("float", "int"),
                doc="float values, or int class labels",
            ),
        ],
        shape=_static_shape,
        dtype=lambda dtype: dtype,
        formula={
            "forward": r"y = y^{(p)} \quad \text{(sample } p \text{ of the data)}",
            "backward": r"\frac{\partial C}{\partial y} = \sum_{u \in \text{uses}} g_u"
            r",\quad g_u = \text{what use } u \text{ sends back}",
        },
        torch=lambda pt: pt.fed,
        onnx=lambda ox: ox.fed,
        samples=[Sample({}, {"shape": [2]})],
    ),
    OpDef(
        name="parameter",
        label="Parameter",
        category="variable",
        doc="An explicit trainable tensor w. It differs from an input only in being "
        "shared by every sample: its gradient sums the contributions of the batch.",
        source="static",
        params=[
            Param("shape", "shape", [1], doc=SHAPE_DOC),
            Param("init", "str", "uniform", choices=INIT_CHOICES, doc="initialiser"),
        ],
        trainables=[
            Trainable(
                "value",
                lambda shape: tuple(shape),
                "shape",
                init=lambda init: init,
                regularize=True,
            )
        ],
        forward=_parameter_forward,
        vjp={"value": lambda g, out: K.sum_batch(g, out)},
        shape=_static_shape,
        formula={
            "forward": r"w^{(p)} = w \quad \text{for every sample } p",
            "backward": r"\frac{\partial L}{\partial w} = \frac{1}{P} \sum_p g^{(p)}"
            r",\quad g^{(p)} = \frac{\partial C^{(p)}}{\partial w^{(p)}}",
        },
        explain={
            "forward": "@value",
            "value": "@g",
        },
        torch=lambda pt, value: pt.expand(value),
        onnx=lambda ox, value: ox.expand(value),
        samples=[Sample({}, {"shape": [3]}), Sample({}, {"shape": [2, 3], "init": "he"})],
    ),
    OpDef(
        name="constant",
        label="Constant",
        category="variable",
        doc="A fixed value, the same for every sample and never trained.",
        source="static",
        params=[Param("value", "tensor", 1.0, doc="a number or nested list of numbers")],
        forward=_constant_forward,
        shape=_constant_shape,
        formula={"forward": r"z = c", "backward": r"\text{(not trained)}"},
        explain={
            "forward": "@value",
        },
        torch=lambda pt, value: pt.expand(pt.const(value)),
        onnx=lambda ox, value: ox.expand(ox.const(value)),
        samples=[Sample({}, {"value": [1.0, -2.0]}), Sample({}, {"value": 0.5})],
    ),
]
