"""Graph documents: validation, topological order and shape inference.

:func:`validate` checks a graph document (DESIGN.md "Graph document") and infers every
node's per-sample output shape before any array exists. It never raises on bad input: it
collects every issue it can find, each naming the node and port and saying what was
expected. The executor compiles from the same analysis (:func:`analyse`).

>>> from blockprop.engine.graph import validate
>>> doc = {"version": 1, "nodes": [
...     {"id": "x", "op": "input", "params": {"shape": [2]}},
...     {"id": "h", "op": "tanh", "inputs": {"x": "x"}}]}
>>> validate(doc).shapes
{'x': [2], 'h': [2]}
"""

from __future__ import annotations

import difflib
import gc
import heapq
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import registry
from .modules import BROKEN, PATH_RE, Instance, flatten
from .registry import OpDef, Param, ShapeError

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # \Z: "$" would let a trailing "\n" through

#: every code :func:`validate` (and the executor, at run time) can report
CODES = (
    "bad_graph",  # the document itself is malformed (not an object, nodes not a list...)
    "bad_id",
    "duplicate_id",
    "unknown_op",
    "bad_param",
    "missing_input",
    "extra_input",
    "dangling_input",
    "cycle",
    "shape_mismatch",
    "not_differentiable",
    "too_large",
    "bad_feed",  # run time: a fed array is missing or has the wrong shape/dtype
    "bad_state",  # run time: a state entry names an unknown parameter or has the wrong shape
    "module_cycle",  # a module contains itself (``nodes``: the module names round the cycle)
)


@dataclass(frozen=True)
class Issue:
    """One problem found in a graph: a stable ``code``, a message for people, the nodes
    involved (in order, e.g. around a cycle) and the input port if one is at fault."""

    code: str
    message: str
    nodes: list[str] = field(default_factory=list)
    port: str | None = None

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "nodes": list(self.nodes),
            "port": self.port,
        }


class GraphError(Exception):
    """An invalid graph (or feed, or state). ``issues[0]`` is the headline."""

    def __init__(self, issues: list[Issue] | Issue):
        if isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues) or [Issue("bad_graph", "invalid graph")]
        super().__init__(self.issues[0].message)

    @property
    def code(self) -> str:
        return self.issues[0].code

    def to_dict(self) -> dict:
        """The shared error shape: ``{"error": {"code", "message", "nodes", "port"}}``."""
        return {"error": self.issues[0].to_dict()}

    def __str__(self) -> str:
        return self.issues[0].message

    def __repr__(self) -> str:
        more = f" (+{len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        return f"{type(self).__name__}({self.code}: {self.issues[0].message}{more})"


class UnknownOpError(GraphError, KeyError):
    """Raised by ``registry.get`` for a name that is not registered: a :class:`GraphError`
    with code ``unknown_op`` that is also a ``KeyError``."""


@dataclass
class ValidationResult:
    """``ok``; ``order``: node ids in topological order; ``shapes``: per-sample shape of every
    output ("node" or "node:port" for multi-output nodes); ``errors``: the issues."""

    ok: bool
    order: list[str]
    shapes: dict[str, list[int]]
    errors: list[Issue]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "order": list(self.order),
            "shapes": dict(self.shapes),
            "errors": [e.to_dict() for e in self.errors],
        }


@dataclass(eq=False, slots=True)
class Node:
    """A checked node of a graph (internal to the engine)."""

    id: str
    op: OpDef
    params: dict  # resolved: defaults filled in
    index: int  # position in the document
    raw_inputs: dict
    sources: dict = field(default_factory=dict)  # port -> value key
    keys: list = field(default_factory=list)  # output value keys
    shapes: list | None = None  # per-sample output shapes (tuples)
    dtypes: list | None = None  # "float" | "int" per output
    in_shapes: dict | None = None  # port -> per-sample shape
    trainables: dict = field(default_factory=dict)  # name -> (shape, init)
    fan_in: dict = field(default_factory=dict)  # name -> fan-in for its initialiser, if set
    buffers: dict = field(default_factory=dict)  # name -> (shape, fill): non-trainable state
    scratch: dict = field(default_factory=dict)  # name -> per-sample shape
    ok: bool = True  # op, params and inputs are fine (shapes may still be unknown)
    owner: str = ""  # the node whose trainable parameters it uses (itself unless tied)

    def __repr__(self) -> str:
        return f"<node {self.id} ({self.op.name})>"


@dataclass
class Analysis:
    """Everything validation learnt: the result plus the checked nodes in topological order."""

    result: ValidationResult
    nodes: list[Node]  # topological order (only nodes that could be ordered)
    by_key: dict[str, tuple[Node, int]]  # value key -> (node, output index)
    #: module instances by flat id, parents first (:class:`~.modules.Instance`)
    instances: dict[str, Instance] = field(default_factory=dict)


# --------------------------------------------------------------------------- params


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and math.isfinite(float(v))


def check_param(p: Param, value: Any) -> tuple[Any, str | None]:
    """Check one param value against its spec: ``(normalised value, problem or None)``."""
    if value is None:
        return (None, None) if p.nullable else (None, "must be given")
    t = p.type
    if t == "int":
        if not _is_int(value):
            return None, f"must be a whole number, got {value!r}"
        value = int(value)
    elif t == "ints":
        value, problem = _check_ints(p, value)
        if problem:
            return None, problem
    elif t == "float":
        if not _is_num(value):
            return None, f"must be a number, got {value!r}"
        value = float(value)
    elif t == "bool":
        if not isinstance(value, bool):
            return None, f"must be true or false, got {value!r}"
    elif t == "str":
        if not isinstance(value, str):
            return None, f"must be a string, got {value!r}"
    elif t == "shape":
        if not isinstance(value, (list, tuple)) or not all(_is_int(d) for d in value):
            return None, f"must be a list of whole numbers, got {value!r}"
        value = [int(d) for d in value]
        lo = -1 if p.min is not None and p.min < 0 else 1
        if any(d < lo or d == 0 for d in value) or value.count(-1) > 1:
            what = "positive (one may be -1)" if lo < 0 else "positive"
            return None, f"dimensions must be {what}, got {value!r}"
        if len(value) > 8:
            return None, f"at most 8 dimensions, got {len(value)}"
    elif t == "tensor":
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None, "must be a number or a nested list of numbers of a regular shape"
        if arr.dtype == object or not np.all(np.isfinite(arr)):
            return None, "must hold finite numbers only"
        value = arr.tolist()
    if p.choices is not None and value not in p.choices:
        return None, f"must be one of {', '.join(map(str, p.choices))}; got {value!r}"
    if t in ("int", "float"):
        return value, _out_of_range(p, value)
    return value, None


def _out_of_range(p: Param, value) -> str | None:
    if p.min is not None and value < p.min:
        return f"must be at least {p.min}, got {value}"
    if p.max is not None and value > p.max:
        return f"must be at most {p.max}, got {value}"
    return None


def _check_ints(p: Param, value: Any) -> tuple[Any, str | None]:
    """A whole number for every spatial axis (``3``) or one per axis (``[3, 5]``, kept as a
    tuple); each within ``min``..``max``."""
    axes = p.axes or 1
    per = f"a list of {axes} (one per spatial axis)" if axes > 1 else "a list of 1"
    if _is_int(value):
        return int(value), _out_of_range(p, int(value))
    if not isinstance(value, (list, tuple)):
        return None, f"must be a whole number or {per}, got {value!r}"
    if not all(_is_int(v) for v in value):
        return None, f"must be whole numbers, got {value!r}"
    if len(value) != axes:
        return None, f"must be a whole number or {per}, got {list(value)!r}"
    value = tuple(int(v) for v in value)
    for v in value:
        problem = _out_of_range(p, v)
        if problem:
            return None, f"{problem.replace('must be', 'entries must be', 1)} in {list(value)!r}"
    return value, None


# --------------------------------------------------------------------------- analysis


def _label(node: Node | None, nid: str) -> str:
    return f"'{nid}'" + (f" ({node.op.name})" if node is not None else "")


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building many small objects.

    Collections triggered by allocation would otherwise rescan the whole (large, acyclic)
    graph document again and again while a deep graph is checked or compiled.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def analyse(
    doc: Any, *, max_bytes: int | None = None, batch_size: int = 1, itemsize: int = 4
) -> Analysis:
    """Check ``doc`` and infer shapes. Never raises on a bad document."""
    with paused_gc():
        return _analyse(doc, max_bytes, batch_size, itemsize)


def _analyse(doc: Any, max_bytes: int | None, batch_size: int, itemsize: int) -> Analysis:
    issues: list[Issue] = []
    add = issues.append
    empty = Analysis(ValidationResult(False, [], {}, issues), [], {})

    if not isinstance(doc, dict):
        add(Issue("bad_graph", "a graph document must be a JSON object with a 'nodes' list"))
        return empty
    version = doc.get("version", 1)
    if version != 1:
        add(Issue("bad_graph", f"unsupported graph document version {version!r}; expected 1"))
        return empty
    raw_nodes = doc.get("nodes")
    if not isinstance(raw_nodes, list):
        add(Issue("bad_graph", "the graph document needs a 'nodes' list"))
        return empty
    # modules are expanded first: from here on the graph is flat, ids may be paths ("b1/l")
    doc = flatten(doc)
    issues.extend(doc.issues)
    raw_nodes = doc["nodes"]
    ties = doc.ties

    # -- 1. each node on its own: id, op, params, input ports
    ops = {o.name: o for o in registry.all_ops()}
    nodes: dict[str, Node] = {}
    bad_ids: set[str] = {BROKEN}  # ids that exist but whose node is broken (no dangling noise)
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            add(Issue("bad_graph", f"node #{i + 1} must be an object with 'id' and 'op'"))
            continue
        nid = raw.get("id")
        if not isinstance(nid, str) or not PATH_RE.match(nid):
            shown = nid if isinstance(nid, str) else repr(nid)
            add(
                Issue(
                    "bad_id",
                    f"node #{i + 1} has an invalid id {shown!r}: use 1 to 64 "
                    "letters, digits, '_' or '-'",
                    [nid] if isinstance(nid, str) else [],
                )
            )
            continue
        if nid in nodes or nid in bad_ids:
            add(Issue("duplicate_id", f"two nodes have the id '{nid}'; ids must be unique", [nid]))
            continue
        op_name = raw.get("op")
        op = ops.get(op_name) if isinstance(op_name, str) else None
        if op is None:
            if op_name is None:
                msg = f"node '{nid}' has no 'op'"
            else:
                close = difflib.get_close_matches(str(op_name), list(ops), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                msg = f"node '{nid}' uses an unknown op {op_name!r}{hint}"
            add(Issue("unknown_op", msg, [nid]))
            bad_ids.add(nid)
            continue
        node = Node(nid, op, {}, i, {}, owner=ties.get(nid, nid))
        nodes[nid] = node

        raw_params = raw.get("params", {})
        if raw_params is None:
            raw_params = {}
        if not isinstance(raw_params, dict):
            add(Issue("bad_param", f"node '{nid}': 'params' must be an object", [nid]))
            raw_params, node.ok = {}, False
        for name in raw_params:
            if name not in op.param_names:
                known = ", ".join(p.name for p in op.params) or "none"
                add(
                    Issue(
                        "bad_param",
                        f"node '{nid}' ({op_name}) has no parameter "
                        f"'{name}' (its parameters: {known})",
                        [nid],
                        name,
                    )
                )
                node.ok = False
        for p in op.params:
            if p.name in raw_params:
                value, problem = check_param(p, raw_params[p.name])
            elif p.required:
                value, problem = None, "is required"
            else:
                value, problem = p.default, None
            if problem:
                add(
                    Issue(
                        "bad_param",
                        f"node '{nid}' ({op_name}): parameter '{p.name}' {problem}",
                        [nid],
                        p.name,
                    )
                )
                node.ok = False
            node.params[p.name] = value

        raw_inputs = raw.get("inputs", {})
        if raw_inputs is None:
            raw_inputs = {}
        if not isinstance(raw_inputs, dict):
            add(Issue("bad_graph", f"node '{nid}': 'inputs' must map port names to sources", [nid]))
            raw_inputs, node.ok = {}, False
        ports = [p.name for p in op.inputs]
        for port, src in raw_inputs.items():
            if port not in ports:
                has = ", ".join(ports) if ports else "no inputs"
                add(
                    Issue(
                        "extra_input",
                        f"node '{nid}' ({op_name}) has no input port '{port}' (it has {has})",
                        [nid],
                        port,
                    )
                )
                node.ok = False
            elif not isinstance(src, str):
                add(
                    Issue(
                        "dangling_input",
                        f"node '{nid}' port '{port}': the source must be "
                        f"a node id (or 'node:port'), got {src!r}",
                        [nid],
                        port,
                    )
                )
                node.ok = False
            else:
                node.raw_inputs[port] = src
        for port in ports:
            if port not in raw_inputs:
                add(
                    Issue(
                        "missing_input",
                        f"node '{nid}' ({op_name}) needs an input on port '{port}'",
                        [nid],
                        port,
                    )
                )
                node.ok = False
        node.keys = [nid] if len(op.outputs) == 1 else [f"{nid}:{o}" for o in op.outputs]

    # -- 2. edges: resolve every source to a value key
    by_key: dict[str, tuple[Node, int]] = {}
    for node in nodes.values():
        for j, k in enumerate(node.keys):
            by_key[k] = (node, j)
    preds: dict[str, list[str]] = {nid: [] for nid in nodes}
    for node in nodes.values():
        for port, src in node.raw_inputs.items():
            sid, _, sport = src.partition(":")
            if sid in bad_ids:
                node.ok = False
                continue
            snode = nodes.get(sid)
            if snode is None:
                add(
                    Issue(
                        "dangling_input",
                        f"node '{node.id}' port '{port}' is connected to "
                        f"'{src}', but there is no node '{sid}'",
                        [node.id],
                        port,
                    )
                )
                node.ok = False
                continue
            outs = snode.op.outputs
            if sport:
                if sport not in outs:
                    add(
                        Issue(
                            "dangling_input",
                            f"node '{node.id}' port '{port}' is connected "
                            f"to '{src}', but {_label(snode, sid)} has no output '{sport}' "
                            f"(its outputs: {', '.join(outs)})",
                            [node.id, sid],
                            port,
                        )
                    )
                    node.ok = False
                    continue
                key = snode.keys[outs.index(sport)]
            elif len(outs) > 1:
                add(
                    Issue(
                        "dangling_input",
                        f"node '{node.id}' port '{port}': {_label(snode, sid)}"
                        f" has several outputs; connect one of "
                        f"{', '.join(sid + ':' + o for o in outs)}",
                        [node.id, sid],
                        port,
                    )
                )
                node.ok = False
                continue
            else:
                key = snode.keys[0]
            node.sources[port] = key
            preds[node.id].append(sid)

    # -- 3. topological order (Kahn; ties broken by document order), then one cycle if any
    indeg = {nid: len(p) for nid, p in preds.items()}
    succs: dict[str, list[str]] = {nid: [] for nid in nodes}
    for nid, ps in preds.items():
        for s in ps:
            succs[s].append(nid)
    heap = [(n.index, n.id) for n in nodes.values() if indeg[n.id] == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, nid = heapq.heappop(heap)
        order.append(nid)
        for s in succs[nid]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(heap, (nodes[s].index, s))
    if len(order) < len(nodes):
        cyc = _find_cycle(nodes, preds, indeg)
        add(
            Issue(
                "cycle",
                "the graph has a cycle: "
                + " → ".join(cyc + cyc[:1])
                + "; a computation graph must be acyclic",
                cyc,
            )
        )

    # -- 4. shapes and dtypes, in order; a node whose inputs are unknown stays unknown
    shapes: dict[str, list[int]] = {}
    key_shape: dict[str, tuple] = {}
    key_dtype: dict[str, str] = {}
    topo = [nodes[n] for n in order]
    for node in topo:
        if not node.ok or any(k not in key_shape for k in node.sources.values()):
            continue
        _infer(node, key_shape, key_dtype, add)
        if node.shapes is not None:
            for k, s in zip(node.keys, node.shapes, strict=True):
                key_shape[k], shapes[k] = s, list(s)
            for k, d in zip(node.keys, node.dtypes, strict=True):
                key_dtype[k] = d

    _check_ties(nodes, add)

    # -- 5. a cost must not reach trainable parameters only through a non-differentiable op
    _check_differentiable(topo, add)

    # -- 6. memory estimate, before anything is allocated
    known = all(n.shapes is not None for n in nodes.values())
    if max_bytes is not None and known and not issues:
        need = estimate_bytes(topo, batch_size, itemsize)
        if need > max_bytes:
            add(
                Issue(
                    "too_large",
                    f"this graph needs about {_human(need)} of tensor memory "
                    f"at batch size {batch_size}, over the limit of {_human(max_bytes)}; "
                    "use smaller layers or a smaller batch",
                    [],
                )
            )

    result = ValidationResult(not issues, order, shapes, issues)
    return Analysis(result, topo, by_key, doc.instances)


def _check_ties(nodes: dict[str, Node], add) -> None:
    """Tied nodes (instances with ``tie``) must need parameters of the owner's shapes."""
    for node in nodes.values():
        owner = nodes.get(node.owner)
        if owner is node or owner is None or node.shapes is None or owner.shapes is None:
            continue
        mine = {k: s for k, (s, _) in node.trainables.items()}
        theirs = {k: s for k, (s, _) in owner.trainables.items()}
        if mine != theirs:
            show = "; ".join(
                f"{k} {list(mine.get(k, ()))} vs {list(theirs.get(k, ()))}"
                for k in sorted(set(mine) | set(theirs))
                if mine.get(k) != theirs.get(k)
            )
            add(
                Issue(
                    "shape_mismatch",
                    f"node '{node.id}' shares the parameters of '{owner.id}' (tie), but they "
                    f"differ in shape: {show}; tied instances need inputs of the same shapes",
                    [node.id, owner.id],
                )
            )


def _infer(node: Node, key_shape: dict, key_dtype: dict, add) -> None:
    op, p = node.op, node.params
    ins = {port: key_shape[k] for port, k in node.sources.items()}
    # dtypes first: a port takes float values, int labels, or either
    for port in op.inputs:
        k = node.sources[port.name]
        got = key_dtype[k]
        if port.dtype != "any" and got != port.dtype:
            want = "float values" if port.dtype == "float" else "integer class labels"
            has = "integer class labels" if got == "int" else "float values"
            add(
                Issue(
                    "shape_mismatch",
                    f"node '{node.id}' ({op.name}) port '{port.name}' "
                    f"expects {want}, but '{k}' gives {has}",
                    [node.id, k.partition(":")[0]],
                    port.name,
                )
            )
            return
    env = {**ins, **p, "dtypes": {port: key_dtype[k] for port, k in node.sources.items()}}
    try:
        out = op.rules["shape"](env)
    except ShapeError as e:
        port = e.port
        src = node.sources.get(port) if port else None
        got = f", got {e.got}" if e.got else ""
        where = f" port '{port}'" + (f" (from '{src}')" if src else "") if port else ""
        add(
            Issue(
                "shape_mismatch",
                f"node '{node.id}' ({op.name}){where}: expected {e.expected}{got}",
                [node.id] + ([src.partition(":")[0]] if src else []),
                port,
            )
        )
        return
    outs = [tuple(int(d) for d in s) for s in (out if op.multi_output else [out])]
    dt = op.dtype if isinstance(op.dtype, str) else op.rules["dtype"](p)
    node.in_shapes = ins
    node.shapes = outs
    node.dtypes = [dt] * len(outs)
    for t in op.trainables:
        when = op.rules.get(f"when:{t.name}")
        if when is not None and not when(p):
            continue
        shape = tuple(int(d) for d in op.rules[f"trainable:{t.name}"](env))
        init = t.init if isinstance(t.init, str) else op.rules[f"init:{t.name}"](p)
        node.trainables[t.name] = (shape, init)
        fan_in = op.rules.get(f"fan_in:{t.name}")
        if fan_in is not None:
            node.fan_in[t.name] = int(fan_in(env))
    node.scratch = {n: tuple(op.rules[f"scratch:{n}"](env)) for n in op.scratch}
    node.buffers = {
        b.name: (tuple(int(d) for d in op.rules[f"buffer:{b.name}"](env)), b.fill)
        for b in op.buffers
    }


def _find_cycle(nodes: dict[str, Node], preds: dict[str, list[str]], indeg: dict) -> list[str]:
    """One cycle among the nodes Kahn could not order, in edge order (iterative walk)."""
    left = sorted((n for n, d in indeg.items() if d > 0), key=lambda n: nodes[n].index)
    remaining = set(left)
    seen: dict[str, int] = {}
    path: list[str] = []
    cur = left[0]
    while cur not in seen:
        seen[cur] = len(path)
        path.append(cur)
        # every unordered node has an unordered predecessor; walk backwards along those
        cur = next(p for p in preds[cur] if p in remaining)
    cyc = path[seen[cur] :]
    cyc.reverse()  # we walked against the edges
    start = min(range(len(cyc)), key=lambda i: nodes[cyc[i]].index)
    return cyc[start:] + cyc[:start]


def _check_differentiable(topo: list[Node], add) -> None:
    by_id = {n.id: n for n in topo}
    trained: dict[str, bool] = {}  # key -> depends on a trainable parameter
    blocked: dict[str, str | None] = {}  # key -> a non-differentiable node on such a path
    for node in topo:
        if node.shapes is None:
            continue
        srcs = [k for k in node.sources.values() if k in trained]
        t = bool(node.trainables) or any(trained[k] for k in srcs)
        b = next((blocked[k] for k in srcs if blocked[k]), None)
        if b is None and not node.op.differentiable and any(trained[k] for k in srcs):
            b = node.id
        for k in node.keys:
            trained[k], blocked[k] = t, b
        if node.op.category == "cost" and b is not None:
            name = by_id[b].op.name
            add(
                Issue(
                    "not_differentiable",
                    f"cost '{node.id}' depends on trainable parameters "
                    f"through '{b}' ({name}), which has no gradient: backpropagation cannot "
                    "train through it",
                    [node.id, b],
                )
            )


def estimate_bytes(topo: list[Node], batch_size: int, itemsize: int = 4) -> int:
    """Rough bytes of every buffer a plan allocates: values, gradients, scratch, parameters."""
    per_sample = 0
    shared = 0
    for node in topo:
        if node.shapes is None:
            continue
        for s, d in zip(node.shapes, node.dtypes, strict=True):
            per_sample += math.prod(s) * (8 if d == "int" else 2 * itemsize)
        for s in node.scratch.values():
            per_sample += math.prod(s) * itemsize
        for s, _ in node.trainables.values():
            shared += 2 * math.prod(s) * itemsize
    return per_sample * batch_size + shared


def node_sizes(topo: list[Node]) -> dict[str, dict[str, int]]:
    """How many numbers each node holds, before any array exists: ``out`` (its outputs) and
    ``in`` (the inputs it reads) and ``scratch``, per sample; ``params`` (its trainable
    parameters, shared by the batch). For sizing answers before computing them."""
    return {
        node.id: {
            "out": sum(math.prod(s) for s in node.shapes),
            "in": sum(math.prod(s) for s in (node.in_shapes or {}).values()),
            "scratch": sum(math.prod(s) for s in node.scratch.values()),
            "params": sum(math.prod(s) for s, _ in node.trainables.values()),
        }
        for node in topo
        if node.shapes is not None
    }


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def validate(doc: Any, *, max_bytes: int | None = None, batch_size: int = 1) -> ValidationResult:
    """Check a graph document and infer every output's per-sample shape.

    ``max_bytes`` caps the estimated tensor memory for ``batch_size`` (``too_large``).
    Returns ``ValidationResult(ok, order, shapes, errors)``; never raises on a bad document.
    """
    return analyse(doc, max_bytes=max_bytes, batch_size=batch_size).result
