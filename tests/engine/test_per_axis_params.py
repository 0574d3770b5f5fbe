"""Per-axis spatial params (type ``ints``): a kernel size ``3`` or ``[2, 3]``, as PyTorch takes.

Values and gradients of non-square convolutions and pools are checked by the registry walk
(their samples) against finite differences and PyTorch; here: what validation says about
bad values, the shapes, the weights' layout and initialisation, and the exported text."""

from __future__ import annotations

import numpy as np
import pytest

from blockprop.engine import compile_graph, registry, validate
from blockprop.engine.graph import check_param
from blockprop.engine.registry import Param

from .graphs import doc, node


def _check(op: str, shape: list, **params):
    return validate(doc(node("x", "input", shape=shape), node("k", op, {"x": "x"}, **params)))


def _only_error(op: str, shape: list, **params):
    result = _check(op, shape, **params)
    assert not result.ok and len(result.errors) == 1, result.errors
    return result.errors[0]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([3, 3, 3], "a whole number or a list of 2 (one per spatial axis), got [3, 3, 3]"),
        ([3], "a whole number or a list of 2 (one per spatial axis), got [3]"),
        ([2, 1.5], "must be whole numbers, got [2, 1.5]"),
        ([2, True], "must be whole numbers"),
        ("3", "must be a whole number or a list of 2"),
        ([0, 3], "entries must be at least 1, got 0 in [0, 3]"),
        ([3, 65], "entries must be at most 64, got 65 in [3, 65]"),
        (0, "must be at least 1, got 0"),
    ],
)
def test_bad_per_axis_values_name_the_node_and_the_param(value, problem):
    e = _only_error("conv2d", [1, 8, 8], out_channels=2, kernel_size=value)
    assert e.code == "bad_param" and e.nodes == ["k"] and e.port == "kernel_size"
    assert e.message.startswith("node 'k' (conv2d): parameter 'kernel_size' ")
    assert problem in e.message


def test_a_one_axis_op_takes_a_list_of_one():
    result = _check("conv1d", [2, 9], out_channels=3, kernel_size=[3], stride=[2])
    assert result.shapes["k"] == [3, 4]
    e = _only_error("conv1d", [2, 9], out_channels=3, padding=[1, 1])
    assert e.port == "padding" and "a whole number or a list of 1, got [1, 1]" in e.message


def test_check_param_keeps_ints_and_makes_lists_tuples():
    p = Param("k", "ints", 1, min=0, axes=2)
    assert check_param(p, 3) == (3, None)
    assert check_param(p, np.int64(3)) == (3, None)
    assert check_param(p, [2, 3]) == ((2, 3), None)
    assert check_param(Param("s", "ints", None, axes=2, nullable=True), None) == (None, None)
    with pytest.raises(ValueError, match="axes"):
        Param("k", "ints", 1)  # how many axes a list covers is part of the declaration
    with pytest.raises(ValueError, match="axes"):
        Param("k", "int", 1, axes=2)


def test_the_spec_tells_editors_the_type_and_the_axes():
    for op, axes in (("conv1d", 1), ("conv2d", 2), ("max_pool2d", 2), ("avg_pool2d", 2)):
        spec = {p["name"]: p for p in registry.op_spec(op)["params"]}
        for name in ("kernel_size", "stride", "padding"):
            assert spec[name]["type"] == "ints" and spec[name]["axes"] == axes, (op, name)
    assert registry.op_spec("linear")["params"][0]["axes"] is None


def test_non_square_conv_shapes_weights_and_fan_in():
    d = doc(
        node("x", "input", shape=[4, 9, 10]),
        node("k", "conv2d", {"x": "x"}, out_channels=6, kernel_size=[3, 5], groups=2),
        node("s", "conv2d", {"x": "k"}, out_channels=2, kernel_size=[1, 3], stride=[1, 2]),
    )
    result = validate(d)
    assert result.ok, result.errors
    assert result.shapes["k"] == [6, 7, 6] and result.shapes["s"] == [2, 7, 2]
    plan = compile_graph(d, 1, dtype=np.float64)
    W, b = plan.params["k"]["W"], plan.params["k"]["b"]
    assert W.shape == (6, 2, 3, 5) and b.shape == (6,)
    bound = 1 / np.sqrt(2 * 3 * 5)  # U(±1/sqrt(fan_in)), fan_in = in/groups · kh · kw
    for p in (W, b):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.5 * bound
    assert registry.op_spec("conv2d")["parameters"][0]["shape_rule"] == (
        "[out_channels, in_channels/groups, kh, kw]"
    )


def test_non_square_shape_errors_say_what_each_axis_needs():
    e = _only_error("conv2d", [1, 2, 9], out_channels=2, kernel_size=[3, 5], dilation=[1, 2])
    assert e.code == "shape_mismatch" and e.port == "x"
    assert "height of at least 3 and width of at least 9" in e.message
    assert "(kernel 3×5, dilation 1×2, padding 0)" in e.message and "[1, 2, 9]" in e.message
    e = _only_error("max_pool2d", [1, 6, 6], kernel_size=[2, 4], padding=[1, 3])
    assert e.code == "shape_mismatch"
    assert "padding (1×3) at most half the kernel size (2×4)" in e.message


def test_pool_stride_defaults_to_the_kernel_per_axis():
    assert _check("max_pool2d", [3, 6, 9], kernel_size=[2, 3]).shapes["k"] == [3, 3, 3]
    shape = _check("avg_pool2d", [3, 6, 9], kernel_size=[2, 3], stride=[1, 1], padding=[1, 0])
    assert shape.shapes["k"] == [3, 7, 7]


def test_a_square_value_and_its_list_give_the_same_numbers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 7, 7))
    square = dict(out_channels=3, kernel_size=3, stride=2, padding=1, dilation=1)
    listed = dict(
        out_channels=3, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1]
    )
    outs = []
    for params in (square, listed):
        d = doc(
            node("x", "input", shape=[2, 7, 7]),
            node("k", "conv2d", {"x": "x"}, **params),
            node("p", "avg_pool2d", {"x": "k"}, kernel_size=params["kernel_size"]),
        )
        plan = compile_graph(d, 2, dtype=np.float64, seed=3)
        plan.forward({"x": x})
        outs.append(plan.values["p"].copy())
    np.testing.assert_array_equal(outs[0], outs[1])
