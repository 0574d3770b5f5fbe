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

Every string that comes from the graph (its name, node ids, params) is data to the
exporters, never code or markup: the PyTorch source holds it only in ``repr`` string
literals, sanitised identifiers and one-line comments (:func:`plain_text`), the ONNX model
only in plain-text fields, and a download's file name goes through :func:`file_stem` and
:func:`content_disposition`.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockprop.engine import registry
from blockprop.engine.data.dataset import Normalizer
from blockprop.engine.graph import GraphError, Issue, Node, analyse

#: export target -> (the OpDef field holding its rule, the name people know it by)
TARGETS = {"pytorch": ("torch", "PyTorch"), "onnx": ("onnx", "ONNX")}

#: a node id as the engine accepts it (checked again here: the exporters rely on it)
NODE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: an id of a flattened graph: node ids joined by "/" (inner nodes of module instances)
NODE_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}(?:/[A-Za-z0-9_-]{1,64})*")

#: file names Windows refuses whatever the extension
_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))]
)


class ExportError(GraphError):
    """A graph that is valid but cannot be exported: code ``not_exportable``."""


@dataclass
class Prepared:
    """A checked graph ready to export: nodes in topological order (with shapes), the
    parameters to start from and the buffers (non-trainable state such as running
    statistics; both float64, by node and name) and the graph's name."""

    name: str
    nodes: list[Node]
    params: dict[str, dict[str, np.ndarray]]
    seed: int
    from_state: bool
    #: module instances by flat id, parents first (:class:`~blockprop.engine.modules.Instance`)
    instances: dict = field(default_factory=dict)
    buffers: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: input node id -> (mean, std), each of the node's per-sample shape: the model takes raw
    #: inputs and its first step is ``(x - mean) / std``, as the training data was scaled
    normalization: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

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
    normalization: Mapping | None = None,
    normalize: bool = True,
) -> Prepared:
    """Validate ``doc`` (raising :class:`GraphError` with every issue, the same codes as
    ``validate``), check that every node exports to ``to`` and resolve the parameters and the
    input normalisation (``normalization``, else the document's; none with
    ``normalize=False``, for callers who scale their inputs themselves)."""
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
    _check_ids(an.nodes)
    plan = compile_graph(doc, 1, dtype=np.float64, seed=seed, state=state, grads="params")
    name = doc.get("name") if isinstance(doc.get("name"), str) else ""
    has_state = bool(state) or bool(doc.get("state"))
    scaling = normalization if normalization is not None else doc.get("normalization")
    norm = input_scaling(an.nodes, scaling) if normalize and scaling else {}
    return Prepared(
        name.strip(),
        an.nodes,
        plan.params,
        seed,
        has_state,
        instances=an.instances,
        buffers=plan.buffers,
        normalization=norm,
    )


def input_scaling(
    nodes: list[Node], normalization: Mapping[str, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{input id: (mean, std)}`` shaped as each input's sample, from a document's
    ``normalization`` (``{id: {mean, std}}``, per feature, flattened). Raises GraphError
    (``bad_normalization``) naming the node when one does not fit it."""
    by_id = {n.id: n for n in nodes}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    issues = []
    for nid, scale in normalization.items():
        node = by_id.get(nid)
        if node is None or node.op.source != "input":
            why = "it is not an input node of the graph"
        else:
            shape = tuple(node.shapes[0])
            why = f"needs `mean` and `std` of {int(np.prod(shape))} numbers each, std > 0"
            try:
                norm = Normalizer.from_dict(scale)  # {mean, std}, as a run records them
                mean, std = norm.mean.reshape(shape), norm.std.reshape(shape)
            except (KeyError, TypeError, ValueError):
                mean = std = None
            finite = mean is not None and np.isfinite(mean).all() and np.isfinite(std).all()
            if finite and (std > 0).all():
                out[nid] = (mean, std)
                continue
        issues.append(Issue("bad_normalization", f"normalization of '{nid}': {why}", [nid]))
    if issues:
        raise GraphError(issues)
    return out


def _check_ids(nodes: list[Node]) -> None:
    """Every node id matches :data:`NODE_ID` in full: the exporters write ids into names and
    comments, so they do not trust that the caller validated them the same way."""
    bad = [n.id for n in nodes if not (isinstance(n.id, str) and NODE_PATH.fullmatch(n.id))]
    if bad:
        raise GraphError(
            [
                Issue("bad_id", f"node id {nid!r} is invalid: use 1 to 64 letters, digits, _ or -")
                for nid in bad
            ]
        )


def export(doc: Mapping[str, Any], to: str, **kw: Any) -> str | bytes:
    """Export ``doc``: PyTorch source (``str``) or a serialised ONNX model (``bytes``)."""
    if to == "pytorch":
        from blockprop.export.pytorch import to_pytorch

        return to_pytorch(doc, **kw)
    if to == "onnx":
        from blockprop.export.onnx import to_onnx_bytes

        return to_onnx_bytes(doc, **kw)
    raise ValueError(f"unknown export target {to!r}; expected one of {', '.join(TARGETS)}")


def plain_text(text: Any, limit: int = 200) -> str:
    """``text`` as one line of printable characters, at most ``limit`` long: for comments in
    generated source and free-text fields of a model.

    Everything that is not printable goes (``str.isprintable``): every character that can
    end a line or a string in Python (``\\n``, ``\\r``, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``,
    ``\\x85``, U+2028, U+2029), other control and format characters (bidi overrides), lone
    surrogates (not encodable as UTF-8) and unusual spaces; runs of spaces become one.

    >>> plain_text('a\\u2028b\\r\\n  c\\x00d')
    'a b c d'
    """
    kept = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(kept.split())[:limit].rstrip()


def file_stem(name: str, default: str = "model") -> str:
    """A file name stem from a graph name: "Two-spiral classifier" -> "two_spiral_classifier".

    Only ASCII letters, digits and '_' (no dot, so no "..", no separator, no hidden file);
    ``default`` for a name with none of them or one Windows reserves (``con``, ``nul``...)."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", str(name), flags=re.ASCII).strip("_").lower()[:64]
    return stem if stem and stem not in _DEVICE_NAMES else default


def _unicode_stem(name: str) -> str:
    """:func:`file_stem` keeping letters and digits of any script ("für" stays "für")."""
    name = unicodedata.normalize("NFC", str(name))
    stem = "".join(ch if ch.isalnum() else "_" for ch in name)  # no separator, control, quote
    return re.sub(r"_+", "_", stem).strip("_").lower()[:64]


def content_disposition(name: str, suffix: str, default: str = "model") -> str:
    """A ``Content-Disposition`` value for downloading graph ``name`` as ``<stem><suffix>``.

    ``filename`` is ASCII (:func:`file_stem`); when the name has letters beyond ASCII, an
    RFC 6266 / RFC 5987 ``filename*`` carries them percent-encoded in UTF-8. Neither can hold
    a quote, ``;``, a path separator, a dot run or a control character.

    >>> content_disposition("Two-spiral classifier", ".py")
    'attachment; filename="two_spiral_classifier.py"'
    >>> print(content_disposition("Spiralen für Kinder", ".py"))
    attachment; filename="spiralen_f_r_kinder.py"; filename*=UTF-8''spiralen_f%C3%BCr_kinder.py
    """
    if not re.fullmatch(r"\.[A-Za-z0-9]{1,16}", suffix):
        raise ValueError(f"bad file suffix {suffix!r}")
    ascii_stem = file_stem(name, default)
    header = f'attachment; filename="{ascii_stem}{suffix}"'
    wide = _unicode_stem(name)
    if wide and wide != ascii_stem and wide not in _DEVICE_NAMES:
        header += "; filename*=UTF-8''" + urllib.parse.quote(wide + suffix, safe="")
    return header


__all__ = [
    "NODE_ID",
    "TARGETS",
    "ExportError",
    "Prepared",
    "content_disposition",
    "export",
    "exportable",
    "file_stem",
    "plain_text",
    "prepare",
]
