"""Modules: blocks made of blocks (the notes' functional module G(x, w)), flattened once.

A graph document may define named sub-graphs and use them as blocks (DESIGN.md "Graph
document")::

    "modules": {"block": {"inputs": ["x"], "outputs": {"y": "t"},
                          "nodes": [{"id": "l", "op": "linear", "inputs": {"x": "x"}, ...},
                                    {"id": "t", "op": "tanh", "inputs": {"x": "l"}}]}},
    "nodes": [..., {"id": "b1", "op": "module", "params": {"module": "block"},
                    "inputs": {"x": "h0"}}, ...]

Inner nodes read the module's inputs by port name. A module's nodes may be instances of other
modules (nesting); a module that contains itself, directly or not, is refused
(``module_cycle``, with the path). An instance's output is read as ``"b1"`` (one output) or
``"b1:y"``. ``"tie": "b0"`` in an instance's params makes it use the parameters of instance
``b0`` of the same module (the notes' shared parameters): one array, whose gradient sums
both uses.

:func:`flatten` expands every instance in place into ordinary nodes with path ids
(``b1/l``, ``b1/inner/l``) and rewires the module inputs and outputs, so validation, the
executor, explain, gradcheck and the exporters work on one flat graph of ordinary nodes:
values, gradients and parameters of inner nodes are addressed ``b1/l`` (``state["b1/l"]``).
User-written ids never hold ``/`` (:data:`~blockprop.engine.graph.ID_RE`); only the
ids flatten makes do. Each module is expanded once into a template, leaves first, and
instances copy their template: no recursion, whatever the nesting depth.

>>> flat = flatten({"modules": {"m": {"inputs": ["x"], "outputs": {"y": "t"},
...     "nodes": [{"id": "t", "op": "tanh", "inputs": {"x": "x"}}]}},
...     "nodes": [{"id": "x", "op": "input", "params": {"shape": [2]}},
...               {"id": "b1", "op": "module", "params": {"module": "m"}, "inputs": {"x": "x"}},
...               {"id": "s", "op": "sigmoid", "inputs": {"x": "b1"}}]})
>>> [(n["id"], n.get("inputs")) for n in flat["nodes"]]
[('x', None), ('b1/t', {'x': 'x'}), ('s', {'x': 'b1/t'})]
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from . import registry

#: the op name of an instance (not a registered op: an instance *is* its inner graph)
MODULE_OP = "module"
#: what joins an instance id and an inner id in flattened ids
SEP = "/"
#: ids written by people: one segment
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # \Z: "$" would let a trailing "\n" through
#: ids of a flattened graph: segments joined by "/"
PATH_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}(?:/[A-Za-z0-9_-]{1,64})*\Z")
#: the source of an input whose module wiring is broken (already reported): no node has it,
#: and validation says nothing more about it
BROKEN = "/"
#: instance params
INSTANCE_PARAMS = ("module", "tie")
#: more flattened nodes than this is refused (``too_large``) before anything is expanded
MAX_FLAT_NODES = 100_000


# A reference to a value inside a scope (module body or the top level), while expanding:
#   ("node", key)       a value key of this scope's flat nodes ("l", "b2/t", "s:out")
#   ("in", port)        the scope's own module input
#   ("alias", inst, q)  whatever feeds input q of instance inst (a pass-through output)
#   ("broken",)         a source already reported, or depending on one
Ref = tuple


@dataclass
class Instance:
    """Where one module instance sits in the flattened graph (flat ids throughout)."""

    id: str  # "b1", or "b1/inner" when nested
    module: str
    inputs: dict[str, str]  # module input port -> flat value key feeding it
    outputs: dict[str, str]  # module output port -> flat value key it reads
    nodes: list[str] = field(default_factory=list)  # its direct inner nodes (flat ids)
    children: list[str] = field(default_factory=list)  # its direct inner instances
    tie: str | None = None  # the instance whose parameters it uses (flat id)
    # module input port -> the (flat inner node, its input port) pairs reading it, at any depth:
    # what its VJP to that port sums (two ports fed the same value stay apart)
    readers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


class FlatDoc(dict):
    """A graph document with every module instance expanded (what :func:`flatten` returns).

    ``instances`` (flat id -> :class:`Instance`, parents before children), ``ties`` (node ->
    the node whose parameters it uses) and ``issues`` (what was wrong with the modules;
    sources that depended on a broken instance read :data:`BROKEN`). A plain ``dict`` is
    never taken for one: JSON cannot make a ``FlatDoc``, so user ids with ``/`` cannot
    pass for flattened ones."""

    instances: dict[str, Instance]
    ties: dict[str, str]
    issues: list


@dataclass
class _Template:
    """A module expanded once, with ids local to it; instances copy it under a prefix."""

    nodes: list[dict]  # flat nodes; their "inputs" hold Refs
    outputs: dict[str, Ref]
    instances: list[tuple[str, str, dict, dict, list, list, str | None, dict]]
    ties: dict[str, str]


def _issue(code: str, message: str, nodes: list[str] | None = None, port: str | None = None):
    from .graph import Issue  # graph imports this module

    return Issue(code, message, list(nodes or []), port)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}{SEP}{key}" if prefix else key


def _map_ref(ref: Ref, prefix: str, bind: dict[str, Ref]) -> Ref:
    """A template's ref seen from the scope its instance lives in."""
    kind = ref[0]
    if kind == "node":
        return ("node", _join(prefix, ref[1]))
    if kind == "in":
        return bind.get(ref[1], ("broken",))
    return ref  # aliases never survive a template; broken stays broken


def _readers(nodes: list[dict], prefix: str) -> dict[str, list[tuple[str, str]]]:
    """A template's input port -> the (node, port) pairs that read it, ids under ``prefix``:
    inside a template every read of its own inputs is an ``("in", port)`` ref, nested
    instances' and pass-through aliases already followed."""
    out: dict[str, list[tuple[str, str]]] = {}
    for tn in nodes:
        ins = tn.get("inputs")
        if isinstance(ins, dict):
            for p, r in ins.items():
                if isinstance(r, tuple) and r[0] == "in":
                    out.setdefault(r[1], []).append((_join(prefix, tn["id"]), p))
    return out


def _copy(node: dict) -> dict:
    """A node of its own (params too): instances of one module share nothing mutable."""
    node = dict(node)
    if isinstance(node.get("params"), dict):
        node["params"] = dict(node["params"])
    return node


def _trains(node: dict) -> bool:
    """Whether a node's op owns trainable parameters (only those are tied)."""
    try:
        return bool(registry.get(node.get("op")).trainables)
    except KeyError:  # an unknown op (UnknownOpError is one): validation reports it
        return False


def _ref_key(ref: Ref) -> str | None:
    return ref[1] if ref[0] == "node" else None


# --------------------------------------------------------------------------- definitions


def _module_defs(doc: dict, add) -> dict[str, dict]:
    """The well-formed module definitions by name; every problem reported."""
    raw = doc.get("modules")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        add(_issue("bad_graph", "'modules' must map module names to definitions"))
        return {}
    defs: dict[str, dict] = {}
    for name, d in raw.items():
        where = f"module {name!r}"
        if not isinstance(name, str) or not ID_RE.match(name):
            add(_issue("bad_graph", f"{where}: a module name is 1 to 64 letters, digits, _ or -"))
            continue
        if not isinstance(d, dict):
            add(_issue("bad_graph", f"{where} must be an object with inputs, outputs and nodes"))
            continue
        ins, outs, nodes = d.get("inputs", []), d.get("outputs"), d.get("nodes")
        ok = True
        if not isinstance(ins, list) or not all(isinstance(i, str) and ID_RE.match(i) for i in ins):
            add(_issue("bad_graph", f"{where}: 'inputs' must be a list of port names"))
            ok = False
        elif len(set(ins)) != len(ins):
            add(_issue("bad_graph", f"{where}: two inputs have the same name"))
            ok = False
        if (
            not isinstance(outs, dict)
            or not outs
            or not all(isinstance(k, str) and ID_RE.match(k) for k in outs)
            or not all(isinstance(v, str) for v in outs.values())
        ):
            add(
                _issue(
                    "bad_graph",
                    f"{where}: 'outputs' must map at least one port name to an inner "
                    "'node' or 'node:port'",
                )
            )
            ok = False
        if not isinstance(nodes, list):
            add(_issue("bad_graph", f"{where} needs a 'nodes' list"))
            ok = False
        if ok:
            defs[name] = d
    return defs


def _uses(nodes: list) -> list[tuple[str, str]]:
    """(instance id, module name) of every instance among raw ``nodes``."""
    out = []
    for n in nodes:
        if isinstance(n, dict) and n.get("op") == MODULE_OP:
            p = n.get("params")
            m = p.get("module") if isinstance(p, dict) else None
            if isinstance(m, str):
                out.append((str(n.get("id")), m))
    return out


def _module_order(defs: dict[str, dict], add) -> list[str]:
    """Module names, every module after the modules it uses; modules on a cycle (reported
    once, with the path) and those that use them are left out."""
    deps = {m: [u for _, u in _uses(d["nodes"]) if u in defs] for m, d in defs.items()}
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    order: list[str] = []
    bad: set[str] = set()
    for root in defs:
        if root in state:
            continue
        stack = [(root, iter(deps[root]))]
        state[root] = 1
        while stack:
            m, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[m] = 2
                if m not in bad and not any(u in bad for u in deps[m]):
                    order.append(m)
                else:
                    bad.add(m)
                continue
            if state.get(nxt) == 1:  # back to a module on the path: a cycle
                path = [s[0] for s in stack]
                cyc = path[path.index(nxt) :] + [nxt]
                add(
                    _issue(
                        "module_cycle",
                        "module '" + nxt + "' contains itself: " + " → ".join(cyc) + "; "
                        "a module cannot be made of itself",
                        cyc,
                    )
                )
                bad.update(cyc)
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(deps[nxt])))
    return order


def _sizes(defs: dict[str, dict], order: list[str]) -> dict[str, int]:
    """How many flat nodes each module expands to (counted, not built)."""
    size: dict[str, int] = {}
    for m in order:
        uses = _uses(defs[m]["nodes"])
        size[m] = len(defs[m]["nodes"]) - len(uses) + sum(size.get(u, 0) for _, u in uses)
    return size


# --------------------------------------------------------------------------- one scope


class _Scope:
    """Expands one list of raw nodes (a module body, or the top level) into flat nodes."""

    def __init__(
        self,
        raw_nodes: list,
        inputs: list[str],
        templates: dict[str, _Template],
        defs: dict[str, dict],
        where: str,
        add,
        raw_modules: Any = None,
    ):
        self.inputs = set(inputs)
        # names of every module written, well-formed or not (a malformed "modules": all)
        self.raw_modules = raw_modules
        self.templates, self.defs, self.where, self.add = templates, defs, where, add
        self.plain: list[dict] = []
        self.inst: dict[str, dict] = {}  # id -> raw instance node (well-formed ones)
        self.broken: set[str] = set()
        self.order: list[tuple[str, dict]] = []  # ("plain" | "inst", raw) in document order
        self._classify(raw_nodes)

    def _at(self, i: int) -> str:
        return f"node #{i + 1}" + (f" of {self.where}" if self.where else "")

    def _classify(self, raw_nodes: list) -> None:
        seen: set[str] = set()
        for i, raw in enumerate(raw_nodes):
            if not isinstance(raw, dict):
                self.add(_issue("bad_graph", f"{self._at(i)} must be an object with 'id' and 'op'"))
                continue
            nid = raw.get("id")
            if not isinstance(nid, str) or not ID_RE.match(nid):
                shown = nid if isinstance(nid, str) else repr(nid)
                self.add(
                    _issue(
                        "bad_id",
                        f"{self._at(i)} has an invalid id {shown!r}: use 1 to 64 "
                        "letters, digits, '_' or '-'",
                        [nid] if isinstance(nid, str) else [],
                    )
                )
                continue
            if nid in seen:
                self.add(
                    _issue(
                        "duplicate_id",
                        f"two nodes have the id '{nid}'"
                        + (f" in {self.where}" if self.where else "")
                        + "; ids must be unique",
                        [nid],
                    )
                )
                continue
            seen.add(nid)
            if nid in self.inputs:
                self.add(
                    _issue(
                        "duplicate_id",
                        f"node '{nid}' of {self.where} has the name of one of its inputs; "
                        "inner nodes read the inputs by that name",
                        [nid],
                    )
                )
                continue
            if raw.get("op") == MODULE_OP:
                if self._check_instance(raw):
                    self.inst[nid] = raw
                    self.order.append(("inst", raw))
                else:
                    self.broken.add(nid)
                continue
            if self.where and self._is_data(raw):
                self.add(
                    _issue(
                        "bad_graph",
                        f"node '{nid}' of {self.where} is an {raw.get('op')}: a module reads "
                        "its data through its inputs; put inputs and targets outside it",
                        [nid],
                    )
                )
                self.broken.add(nid)
                continue
            self.plain.append(raw)
            self.order.append(("plain", raw))

    @staticmethod
    def _is_data(raw: dict) -> bool:
        try:
            return registry.get(raw.get("op")).source in ("input", "target")
        except KeyError:  # an unknown op (UnknownOpError is one): validation reports it
            return False

    def _check_instance(self, raw: dict) -> bool:
        nid = raw["id"]
        params = raw.get("params")
        if not isinstance(params, dict):
            self.add(
                _issue("bad_param", f"node '{nid}' (module) needs params {{'module': …}}", [nid])
            )
            return False
        ok = True
        for k in params:
            if k not in INSTANCE_PARAMS:
                self.add(
                    _issue(
                        "bad_param",
                        f"node '{nid}' (module) has no parameter '{k}' (its parameters: "
                        "module, tie)",
                        [nid],
                        k,
                    )
                )
                ok = False
        name = params.get("module")
        if not isinstance(name, str):
            name = None  # not a name (and maybe not hashable): reported below
        if name not in self.defs and self.raw_modules is not None and name in self.raw_modules:
            return False  # its definition is broken, and reported
        if name not in self.defs:
            names = sorted(self.defs)
            if not isinstance(name, str):
                why = "is required (the name of a module of this graph)"
            else:
                close = difflib.get_close_matches(name, names, n=1)
                why = f"names no module of this graph: {name!r}" + (
                    f"; did you mean '{close[0]}'?" if close else ""
                )
            self.add(
                _issue(
                    "bad_param", f"node '{nid}' (module): parameter 'module' {why}", [nid], "module"
                )
            )
            return False
        if name not in self.templates:  # on a cycle (reported) or broken
            return False
        inputs = raw.get("inputs") or {}
        if not isinstance(inputs, dict):
            self.add(
                _issue("bad_graph", f"node '{nid}': 'inputs' must map port names to sources", [nid])
            )
            return False
        ports = self.defs[name].get("inputs", [])
        for port in inputs:
            if port not in ports:
                has = ", ".join(ports) or "no inputs"
                self.add(
                    _issue(
                        "extra_input",
                        f"node '{nid}' (module '{name}') has no input port '{port}' (it has {has})",
                        [nid],
                        port,
                    )
                )
                ok = False
        for port in ports:
            if not isinstance(inputs.get(port), str):
                what = "needs an input" if port not in inputs else "needs a node id as the source"
                code = "missing_input" if port not in inputs else "dangling_input"
                self.add(
                    _issue(
                        code, f"node '{nid}' (module '{name}') {what} on port '{port}'", [nid], port
                    )
                )
                ok = False
        return ok

    # ------------------------------------------------------------------ references

    def resolve(self, src: str, who: str, port: str) -> Ref:
        """The ref a source string names in this scope (one step: aliases stay)."""
        sid, colon, sport = src.partition(":")
        if sid in self.inputs and not colon:
            return ("in", sid)
        if sid in self.broken:
            return ("broken",)
        raw = self.inst.get(sid)
        if raw is None:
            return ("node", src)  # an ordinary node (or nothing: validation reports it)
        name = raw["params"]["module"]
        outs = self.templates[name].outputs
        if not colon:
            if len(outs) > 1:
                self.add(
                    _issue(
                        "dangling_input",
                        f"node '{who}' port '{port}': '{sid}' (module '{name}') has several "
                        f"outputs; connect one of {', '.join(sid + ':' + o for o in outs)}",
                        [who, sid],
                        port,
                    )
                )
                return ("broken",)
            sport = next(iter(outs))
        if sport not in outs:
            self.add(
                _issue(
                    "dangling_input",
                    f"node '{who}' port '{port}' is connected to '{src}', but '{sid}' (module "
                    f"'{name}') has no output '{sport}' (its outputs: {', '.join(outs)})",
                    [who, sid],
                    port,
                )
            )
            return ("broken",)
        ref = outs[sport]
        if ref[0] == "in":
            return ("alias", sid, ref[1])
        return _map_ref(ref, sid, {})

    def follow(self, ref: Ref, who: str, port: str) -> Ref:
        """Follow pass-through aliases to a node, a scope input or broken."""
        seen: list[str] = []
        while ref[0] == "alias":
            _, sid, q = ref
            if sid in seen:
                cyc = seen[seen.index(sid) :]
                self.add(
                    _issue(
                        "cycle",
                        "the graph has a cycle: " + " → ".join(cyc + cyc[:1]) + " (modules "
                        "passing their inputs straight through); a computation graph must be "
                        "acyclic",
                        cyc,
                    )
                )
                return ("broken",)
            seen.append(sid)
            ref = self.resolve(self.inst[sid]["inputs"][q], sid, q)
        return ref

    def source(self, src: Any, who: str, port: str) -> Ref | Any:
        if not isinstance(src, str):
            return src  # validation reports it
        return self.follow(self.resolve(src, who, port), who, port)

    # ------------------------------------------------------------------ expansion

    def expand(self) -> _Template:
        nodes: list[dict] = []
        instances: list = []
        ties: dict[str, str] = {}
        owners = self._tie_owners()
        for kind, raw in self.order:
            nid = raw["id"]
            if kind == "plain":
                node = _copy(raw)
                ins = raw.get("inputs")
                if isinstance(ins, dict):
                    node["inputs"] = {p: self.source(s, nid, p) for p, s in ins.items()}
                nodes.append(node)
                continue
            name = raw["params"]["module"]
            t = self.templates[name]
            bind = {q: self.source(s, nid, q) for q, s in raw["inputs"].items()}
            owner = owners.get(nid)
            own = [_join(nid, tn["id"]) for tn in t.nodes if SEP not in tn["id"]]
            kids = [_join(nid, i[0]) for i in t.instances if SEP not in i[0]]
            outs = {q: _map_ref(r, nid, bind) for q, r in t.outputs.items()}
            instances.append((nid, name, bind, outs, own, kids, owner, _readers(t.nodes, nid)))
            for tn in t.nodes:
                node = _copy(tn)
                node["id"] = _join(nid, tn["id"])
                ins = tn.get("inputs")
                if isinstance(ins, dict):
                    node["inputs"] = {
                        p: (_map_ref(r, nid, bind) if isinstance(r, tuple) else r)
                        for p, r in ins.items()
                    }
                nodes.append(node)
                if (tn["id"] in t.ties or owner is not None) and _trains(tn):
                    local = t.ties.get(tn["id"], tn["id"])
                    ties[node["id"]] = _join(owner or nid, local)
            for iid, mod, ins, outs, own, kids, tie, readers in t.instances:
                instances.append(
                    (
                        _join(nid, iid),
                        mod,
                        {q: _map_ref(r, nid, bind) for q, r in ins.items()},
                        {q: _map_ref(r, nid, bind) for q, r in outs.items()},
                        [_join(nid, k) for k in own],
                        [_join(nid, k) for k in kids],
                        _join(nid, tie) if tie else None,
                        {q: [(_join(nid, n), p) for n, p in rs] for q, rs in readers.items()},
                    )
                )
        outputs = {}
        return _Template(nodes, outputs, instances, ties)

    def _tie_owners(self) -> dict[str, str]:
        """Instance -> the instance whose parameters it uses (chains followed)."""
        tie_of: dict[str, str] = {}
        for nid, raw in self.inst.items():
            tie = raw["params"].get("tie")
            if tie is None:
                continue
            other = self.inst.get(tie) if isinstance(tie, str) else None
            same = other is not None and other["params"]["module"] == raw["params"]["module"]
            if not same or tie == nid:
                why = (
                    "cannot be the instance itself"
                    if tie == nid
                    else "must name another instance of the same module in the same graph"
                    f" ('{raw['params']['module']}'), got {tie!r}"
                )
                self.add(
                    _issue(
                        "bad_param", f"node '{nid}' (module): parameter 'tie' {why}", [nid], "tie"
                    )
                )
                continue
            tie_of[nid] = tie
        owners: dict[str, str] = {}
        for nid in tie_of:
            path, cur = [nid], tie_of[nid]
            while cur in tie_of and cur not in path:
                path.append(cur)
                cur = tie_of[cur]
            if cur in path:
                self.add(
                    _issue(
                        "bad_param",
                        f"node '{nid}' (module): parameter 'tie' goes round in a circle: "
                        + " → ".join(path + [cur]),
                        [nid],
                        "tie",
                    )
                )
                continue
            owners[nid] = cur
        return owners


def _template(defs: dict, name: str, templates: dict, add, raw_modules: Any) -> _Template:
    d = defs[name]
    scope = _Scope(
        d["nodes"], d.get("inputs", []), templates, defs, f"module '{name}'", add, raw_modules
    )
    t = scope.expand()
    keys = {n["id"] for n in scope.plain} | set(scope.inst)
    for port, src in d["outputs"].items():
        sid = src.partition(":")[0]
        if sid not in keys and sid not in scope.inputs and sid not in scope.broken:
            add(
                _issue(
                    "dangling_input",
                    f"module '{name}' output '{port}' reads '{src}', but the module has no "
                    f"node or input '{sid}'",
                    [],
                    port,
                )
            )
            t.outputs[port] = ("broken",)
            continue
        t.outputs[port] = scope.source(src, f"{name}:{port}", port)
    return t


def flatten(doc: Any, *, max_nodes: int = MAX_FLAT_NODES) -> Any:
    """``doc`` with every module instance expanded into ordinary nodes (a :class:`FlatDoc`).

    Never raises on a bad document: a document that is not an object with a ``nodes`` list is
    returned as it is (validation reports it), and problems with modules are in ``issues``.
    A ``FlatDoc`` is returned unchanged (flattening twice is flattening once)."""
    if isinstance(doc, FlatDoc) or not isinstance(doc, dict):
        return doc
    top = doc.get("nodes")
    if not isinstance(top, list):
        return doc
    issues: list = []
    add = issues.append
    defs = _module_defs(doc, add)
    order = _module_order(defs, add)
    size = _sizes(defs, order)
    uses = _uses(top)
    total = len(top) - len(uses) + sum(size.get(m, 0) for _, m in uses)
    flat = FlatDoc({k: v for k, v in doc.items() if k != "modules"})
    flat.instances, flat.ties = {}, {}
    if uses and total > max_nodes:  # a graph without instances is as big as it is
        add(
            _issue(
                "too_large",
                f"with its modules expanded the graph has {total:,} nodes; the limit is "
                f"{max_nodes:,}",
            )
        )
        flat["nodes"], flat.issues = [], issues
        return flat
    written = doc.get("modules")
    if written is not None and not isinstance(written, dict):
        written = _Everything()  # already reported: instances say nothing more
    templates: dict[str, _Template] = {}
    for name in order:
        templates[name] = _template(defs, name, templates, add, written)
    t = _Scope(top, [], templates, defs, "", add, written).expand()
    nodes = []
    for n in t.nodes:
        ins = n.get("inputs")
        if isinstance(ins, dict):
            n["inputs"] = {p: _final(r) for p, r in ins.items()}
        nodes.append(n)
    flat["nodes"] = nodes
    flat.ties = t.ties
    for iid, mod, ins, outs, own, kids, tie, readers in t.instances:  # parents first
        flat.instances[iid] = Instance(
            iid,
            mod,
            {q: _ref_key(r) or "" for q, r in ins.items()},
            {q: _ref_key(r) or "" for q, r in outs.items()},
            own,
            kids,
            tie,
            readers,
        )
    flat.issues = issues
    return flat


class _Everything:
    def __contains__(self, _: object) -> bool:
        return True


def _final(ref: Any) -> Any:
    """A ref as the source string validation reads (broken ones as a node that never exists)."""
    if not isinstance(ref, tuple):
        return ref
    if ref[0] == "node":
        return ref[1]
    return BROKEN


def flat_node_count(doc: Any) -> int | None:
    """How many nodes ``doc`` has with its modules expanded, counted without expanding;
    ``None`` when its modules are malformed (validation says how)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        return None
    issues: list = []
    defs = _module_defs(doc, issues.append)
    order = _module_order(defs, issues.append)
    if issues:
        return None
    size = _sizes(defs, order)
    uses = _uses(doc["nodes"])
    return len(doc["nodes"]) - len(uses) + sum(size.get(m, 0) for _, m in uses)


__all__ = [
    "MODULE_OP",
    "PATH_RE",
    "SEP",
    "FlatDoc",
    "Instance",
    "flat_node_count",
    "flatten",
]
