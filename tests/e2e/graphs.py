"""Graphs the browser tests share (declared once)."""

from __future__ import annotations

from typing import Any

# the notes' two-layer network: x → linear → ReLU → linear → cross-entropy with a class label
TWO_LAYER: dict[str, Any] = {
    "version": 1,
    "name": "Two-layer network (notes)",
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}, "ui": {"x": 0, "y": 40}},
        {
            "id": "y",
            "op": "target",
            "params": {"shape": [], "dtype": "int"},
            "ui": {"x": 560, "y": 200},
        },
        {
            "id": "l1",
            "op": "linear",
            "params": {"out_features": 4},
            "inputs": {"x": "x"},
            "ui": {"x": 140, "y": 20},
        },
        {"id": "h", "op": "relu", "inputs": {"x": "l1"}, "ui": {"x": 320, "y": 20}},
        {
            "id": "l2",
            "op": "linear",
            "params": {"out_features": 2},
            "inputs": {"x": "h"},
            "ui": {"x": 480, "y": 20},
        },
        {
            "id": "c",
            "op": "cross_entropy",
            "inputs": {"logits": "l2", "target": "y"},
            "ui": {"x": 680, "y": 80},
        },
    ],
}
