"""Marking a value as a cost: a cost built from primitives (lecture 002's ½e² drawn as
subtract → square → sum → × ½) trains like a declared one once its scalar enters this block."""

from __future__ import annotations

import numpy as np

from ..registry import OpDef, Sample, expect


def _scalar_per_sample(x):
    expect(x == (), "x", "one number per sample (sum the sample first)", x or None)
    return ()


def _copy(x, out):
    if out is None:
        return x.copy()
    np.copyto(out, x)
    return out


OPS = [
    OpDef(
        name="as_cost",
        label="Cost (mark)",
        category="cost",
        doc="Marks its input, one number per sample, as a cost: the loss adds it up like any "
        "other cost. Build a cost from primitives (½‖ȳ − y‖² as subtract → square → sum → "
        "× ½) and end it here.",
        inputs=[("x", "a cost per sample, built from other blocks")],
        shape=_scalar_per_sample,
        forward=_copy,
        vjp={"x": lambda g: g},
        formula={
            "forward": r"C = x",
            "backward": r"\frac{\partial C}{\partial x} = g,\quad "
            r"g = \frac{\partial C}{\partial c}",
        },
        explain={
            "forward": "@x",
            "x": "@g",
            "symbols": {"ans": "c", "g": r"\frac{\partial C}{\partial c}"},
        },
        torch="{x}",
        onnx=lambda x: x,
        samples=[Sample({"x": ()})],
    ),
]
