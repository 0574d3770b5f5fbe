"""Per-axis spatial params in the exports: PyTorch's tuples and ONNX's per-axis attributes.

That the exported models compute what the engine does is checked for every op sample
(non-square ones included) by test_pytorch.py and test_onnx.py; here: the text a reader sees
and the attributes a runtime reads."""

from __future__ import annotations

from blockprop.export.onnx import to_onnx
from blockprop.export.pytorch import to_pytorch

from .helpers import doc, node

GRAPH = doc(
    node("x", "input", shape=[2, 6, 7]),
    node(
        "k",
        "conv2d",
        {"x": "x"},
        out_channels=3,
        kernel_size=[2, 3],
        stride=[1, 2],
        padding=[1, 0],
        dilation=[2, 1],
    ),
    node("m", "max_pool2d", {"x": "k"}, kernel_size=[2, 1]),
    node("a", "avg_pool2d", {"x": "m"}, kernel_size=2, stride=[1, 2], padding=[1, 0]),
    node("s", "conv2d", {"x": "a"}, out_channels=2, kernel_size=1, bias=False),
)


def _line(source: str, node_id: str) -> str:
    return next(line.strip() for line in source.splitlines() if f"# {node_id} (" in line)


def test_pytorch_source_writes_tuples_per_axis_and_ints_when_square():
    src = to_pytorch(GRAPH)
    assert "stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=1)" in _line(src, "k")
    assert "F.max_pool2d(k, (2, 1), (2, 1), 0)" in _line(src, "m")  # null stride: the kernel
    assert "F.avg_pool2d(m, 2, (1, 2), (1, 0))" in _line(src, "a")
    assert "stride=1, padding=0, dilation=1, groups=1)" in _line(src, "s")
    assert "self.k_W" in src


def test_onnx_attributes_are_per_axis_with_pads_as_starts_then_ends():
    model = to_onnx(GRAPH)
    attrs = {
        n.op_type + str(i): {a.name: list(a.ints) for a in n.attribute if a.ints}
        for i, n in enumerate(model.graph.node)
        if n.op_type in ("Conv", "MaxPool", "AveragePool")
    }
    conv, mx, avg, conv1 = attrs.values()
    assert conv == {
        "kernel_shape": [2, 3],
        "strides": [1, 2],
        "pads": [1, 0, 1, 0],
        "dilations": [2, 1],
    }
    assert mx == {"kernel_shape": [2, 1], "strides": [2, 1], "pads": [0, 0, 0, 0]}
    assert avg == {"kernel_shape": [2, 2], "strides": [1, 2], "pads": [1, 0, 1, 0]}
    assert conv1["kernel_shape"] == [1, 1] and conv1["strides"] == [1, 1]
