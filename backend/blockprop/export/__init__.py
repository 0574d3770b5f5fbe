"""Export a graph document to PyTorch source or an ONNX model.

Both exporters walk the graph in topological order and dispatch through the registry: each op
declares how it exports next to its other rules (``OpDef.torch``, ``OpDef.onnx``; see
:func:`blockprop.engine.registry.check_export`), so nothing here lists op names. Trainable
parameters come from the graph's ``state`` (or an explicit ``state``), else from the engine's
seeded initialisation: the exported model computes what the engine computes for the same seed.

>>> from blockprop.export import export
>>> from blockprop.examples import get_example
>>> source = export(get_example("xor")["graph"], "pytorch")
>>> "class XORWithOneHiddenLayer(nn.Module):" in source
True

An op without a rule for the target gives a :class:`ExportError` (a
:class:`~blockprop.engine.graph.GraphError` with code ``not_exportable``) naming the node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.graph import GraphError, Issue, Node, analyse

#: export target -> (the OpDef field holding its rule, the name people know it by)
TARGETS = {"pytorch": ("torch", "PyTorch"), "onnx": ("onnx", "ONNX")}


class ExportError(GraphError):
    """A graph that is valid but cannot be exported: code ``not_exportable``."""


@dataclass
class Prepared:
    """A checked graph ready to export: nodes in topological order (with shapes), the
    parameters to start from (float64, by node and name) and the graph's name."""

    name: str
    nodes: list[Node]
    params: dict[str, dict[str, np.ndarray]]
    seed: int
    from_state: bool

    @property
    def costs(self) -> list[Node]:
        return [n for n in self.nodes if n.op.category == "cost"]

    @property
    def fed(self) -> list[Node]:
        return [n for n in self.nodes if n.op.source in ("input", "target")]


def exportable(op: registry.OpDef | str, to: str) -> bool:
    """Whether ``op`` declares a rule for target ``to`` ("pytorch" or "onnx")."""
    op = registry.get(op) if isinstance(op, str) else op
    return getattr(op, TARGETS[to][0]) is not None


def prepare(
    doc: Mapping[str, Any],
    to: str,
    *,
    seed: int = 0,
    state: Mapping | None = None,
    max_bytes: int | None = None,
) -> Prepared:
    """Validate ``doc`` (raising :class:`GraphError` with every issue, the same codes as
    ``validate``), check that every node exports to ``to`` and resolve the parameters."""
    from blockprop.engine.executor import compile_graph

    if to not in TARGETS:
        raise ValueError(f"unknown export target {to!r}; expected one of {', '.join(TARGETS)}")
    an = analyse(doc, max_bytes=max_bytes, batch_size=1, itemsize=8)
    if not an.result.ok:
        raise GraphError(an.result.errors)
    field, label = TARGETS[to]
    issues = [
        Issue(
            "not_exportable",
            f"node '{n.id}' ({n.op.name}) cannot be exported to {label}: "
            f"the op '{n.op.name}' declares no {label} rule",
            [n.id],
        )
        for n in an.nodes
        if getattr(n.op, field) is None
    ]
    if issues:
        raise ExportError(issues)
    plan = compile_graph(doc, 1, dtype=np.float64, seed=seed, state=state, grads="params")
    name = doc.get("name") if isinstance(doc.get("name"), str) else ""
    has_state = bool(state) or bool(doc.get("state"))
    return Prepared(name.strip(), an.nodes, plan.params, seed, has_state)


def export(doc: Mapping[str, Any], to: str, **kw: Any) -> str | bytes:
    """Export ``doc``: PyTorch source (``str``) or a serialised ONNX model (``bytes``)."""
    if to == "pytorch":
        from blockprop.export.pytorch import to_pytorch

        return to_pytorch(doc, **kw)
    if to == "onnx":
        from blockprop.export.onnx import to_onnx_bytes

        return to_onnx_bytes(doc, **kw)
    raise ValueError(f"unknown export target {to!r}; expected one of {', '.join(TARGETS)}")


def file_stem(name: str, default: str = "model") -> str:
    """A file name stem from a graph name: "Two-spiral classifier" -> "two_spiral_classifier"."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()
    return stem[:64] or default


__all__ = ["TARGETS", "ExportError", "Prepared", "export", "exportable", "file_stem", "prepare"]
