"""PyTorch export of module instances: one nested ``nn.Module`` class per module definition.

The engine sees a flat graph (``b1/l``...); the exporter folds it back along the instances
the flattening recorded (:attr:`~blockprop.export.Prepared.instances`). Each class is
written from one instance of its module: ``forward(self, batch, <inputs>)`` runs its nodes
and its own instances and returns its outputs, in the module's output order, then its
values by inner id; ``__init__(self, state, dtype)`` takes the parameters of that instance
(``state`` keyed by inner id). Instances whose code would be the same share one class (the
usual case; instances fed different shapes may need a variant). An instance tied to another
(``tie``) *is* that one: ``self.b2 = self.b1``, one set of parameters, summed gradients.

The same rules as :mod:`blockprop.export.pytorch` hold: text from the graph appears only in
``repr`` literals, sanitised identifiers and one-line comments.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from blockprop.engine.graph import Issue
from blockprop.engine.modules import SEP, Instance
from blockprop.export import ExportError, Prepared, plain_text

#: helpers written once at the top of a file whose graph has modules (no graph text)
HELPERS = '''

def _scoped(state, prefix):
    """The entries of a graph `state` inside one instance, by inner id."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _within(prefix, values):
    """Values (or state) of an instance, by flat id ("b1/" + inner id)."""
    return {prefix + k: v for k, v in values.items()}


def _graph_state(module):
    """A module's parameters and buffers as a graph `state`, its instances' under their
    prefixes."""
    state = {}
    for attr, (node, name) in {**module.PARAMETERS, **getattr(module, "BUFFERS", {})}.items():
        state.setdefault(node, {})[name] = getattr(module, attr).detach().tolist()
    for attr, prefix in module.MODULES.items():
        state.update(_within(prefix, _graph_state(getattr(module, attr))))
    return state
'''


@dataclass
class Scope:
    """What one class's ``forward`` and ``__init__`` hold besides its own nodes' lines."""

    body: list[str] = field(default_factory=list)
    init: list[str] = field(default_factory=list)  # child modules, after the parameters
    values: list[str] = field(default_factory=list)  # entries of the values dict
    modules: list[str] = field(default_factory=list)  # MODULES entries (own parameters)


def _member(node_id: str, prefix: str) -> str:
    """The direct member of the scope ``prefix`` that holds flat id ``node_id``: the node
    itself, or the instance it sits in."""
    rest = node_id[len(prefix) + 1 :] if prefix else node_id
    head = rest.split(SEP, 1)[0]
    return _join(prefix, head) if SEP in rest else node_id


def _join(prefix: str, local: str) -> str:
    return f"{prefix}{SEP}{local}" if prefix else local


def _inside(node_id: str, prefix: str) -> bool:
    return not prefix or node_id.startswith(prefix + SEP)


def members(prep: Prepared, prefix: str) -> list:
    """The nodes and instances directly in scope ``prefix`` ("" for the graph), in an order
    that runs each after what it reads (Kahn over the members; ties by first node)."""
    by_id = {n.id: n for n in prep.nodes}
    first: dict[str, int] = {}
    preds: dict[str, set[str]] = {}
    for i, n in enumerate(prep.nodes):
        if not _inside(n.id, prefix):
            continue
        m = _member(n.id, prefix)
        first.setdefault(m, i)
        preds.setdefault(m, set())
        for key in n.sources.values():
            src = key.partition(":")[0]
            if _inside(src, prefix) and _member(src, prefix) != m:
                preds[m].add(_member(src, prefix))
    succs: dict[str, list[str]] = {m: [] for m in preds}
    indeg = {m: len(p) for m, p in preds.items()}
    for m, ps in preds.items():
        for p in ps:
            succs[p].append(m)
    heap = [(first[m], m) for m, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, m = heapq.heappop(heap)
        order.append(m)
        for s in succs[m]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(heap, (first[s], s))
    if len(order) < len(preds):
        stuck = sorted(m for m, d in indeg.items() if d > 0 and m in prep.instances)
        raise ExportError(
            Issue(
                "not_exportable",
                f"instance '{stuck[0]}' feeds one of its own inputs through the graph outside "
                "it; nested PyTorch modules cannot call it once (the engine can run it)",
                stuck[:1],
            )
        )
    return [prep.instances[m] if m in prep.instances else by_id[m] for m in order]


def child_attribute(gen, local: str) -> str:
    """``self.<attr>`` for an instance: a fresh attribute named after its id."""
    return gen.attribute(local, "block")


def scope(gen, prep: Prepared, prefix: str, classes: dict[str, str], state: str) -> Scope:
    """The lines of scope ``prefix``: its nodes' (``gen.line``) and a call per instance;
    ``classes`` gives each (untied) instance's class; ``state`` names the state mapping in
    ``__init__`` (``STATE`` or ``state``)."""
    from blockprop.export.pytorch import _identifier, pystr

    out = Scope()
    dtypes = {k: d for n in prep.nodes for k, d in zip(n.keys, n.dtypes, strict=True)}
    ordered = members(prep, prefix)
    # instances get their attributes first, owners before the instances tied to them
    insts = [m for m in ordered if m.id in prep.instances]  # ids of nodes and instances differ
    attrs = {m.id: child_attribute(gen, gen.local(m.id)) for m in insts}
    for m in sorted(insts, key=lambda m: m.tie is not None):
        local = gen.local(m.id)
        if m.tie is not None:
            out.init.append(f"self.{attrs[m.id]} = self.{attrs[m.tie]}  # tied: one module")
        else:
            scoped = f"_scoped({state}, {pystr(local + SEP)})"
            out.init.append(f"self.{attrs[m.id]} = {classes[m.id]}({scoped}, dtype)")
            out.modules.append(f"{pystr(attrs[m.id])}: {pystr(local + SEP)},")
    for m in ordered:
        if m.id not in attrs:  # a node
            out.body.append(gen.line(m))
            for k in m.keys:
                out.values.append(f"{pystr(gen.local(k))}: {gen.var[k]}")
            continue
        local, attr = gen.local(m.id), attrs[m.id]
        names = [_identifier(f"{local}_{q}", gen.taken) for q in m.outputs]
        vals = _identifier(f"{local}_values", gen.taken)
        args = ", ".join([gen.batch_name(), *(gen.var[k] for k in m.inputs.values())])
        comment = f"{plain_text(local, 64)} (module {plain_text(m.module, 64)})"
        out.body.append(f"{', '.join([*names, vals])} = self.{attr}({args})  # {comment}")
        for key, name in zip(m.outputs.values(), names, strict=True):
            gen.var.setdefault(key, name)
            gen.dtype.setdefault(key, dtypes.get(key, "float"))
        out.values.append(f"**_within({pystr(local + SEP)}, {vals})")
    return out


def _tuple(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def dict_literal(entries: list[str], indent: int) -> str:
    pad = " " * indent
    one = "{" + ", ".join(entries) + "}"
    if len(one) + indent <= 90:
        return one
    return "{\n" + "".join(f"{pad}    {e},\n" for e in entries) + pad + "}"


def module_class(prep: Prepared, inst: Instance, classes: dict[str, str], dtypes: dict) -> str:
    """The text of the class for ``inst`` with ``{CLS}`` in place of its name."""
    from blockprop.export.pytorch import _dict_lines, _Generator, _identifier, literal, pystr

    gen = _Generator(prep, inst.id)
    gen.taken.add("batch")
    args = []
    for port, key in inst.inputs.items():
        name = _identifier(port, gen.taken)
        args.append(name)
        gen.var.setdefault(key, name)
        gen.dtype.setdefault(key, dtypes.get(key, "float"))
    sc = scope(gen, prep, inst.id, classes, "state")
    outs = [gen.var[k] for k in inst.outputs.values()]
    lines = ["", "", "class {CLS}(nn.Module):"]
    lines.append('    """A module of the graph: forward(batch, *inputs) returns its outputs (in')
    lines.append("    OUTPUTS order) and its nodes' values by inner id.")
    lines.append('    """')
    lines.append("")
    lines.append(f"    MODULE_NAME = {pystr(inst.module)}")
    lines.append(f"    INPUTS = {_tuple([pystr(q) for q in inst.inputs])}")
    lines.append(f"    OUTPUTS = {_tuple([pystr(q) for q in inst.outputs])}")
    params = [f"{pystr(a)}: ({pystr(nid)}, {pystr(name)})," for a, nid, name in gen.params]
    lines += _dict_lines("PARAMETERS", params)
    if gen.states:  # running statistics (batch_norm), registered as buffers
        states = [f"{pystr(a)}: ({pystr(nid)}, {pystr(name)})," for a, nid, name in gen.states]
        lines += _dict_lines("BUFFERS", states)
    lines += _dict_lines("MODULES", sc.modules)
    lines.append("")
    lines.append("    def __init__(self, state, dtype=torch.float32):")
    lines.append("        super().__init__()")
    for attr, nid, name in gen.params:
        ref = f"state[{pystr(nid)}][{pystr(name)}]"
        lines.append(f"        self.{attr} = nn.Parameter(torch.tensor({ref}, dtype=dtype))")
    for attr, nid, name in gen.states:
        ref = f"state[{pystr(nid)}][{pystr(name)}]"
        tensor = f"torch.tensor({ref}, dtype=dtype)"
        lines.append(f"        self.register_buffer({pystr(attr)}, {tensor})")
    for attr, value in gen.buffers:
        lit = literal(value, 8)
        lines.append(
            f"        self.register_buffer({pystr(attr)}, torch.tensor({lit}, dtype=dtype))"
        )
    lines += [f"        {line}" for line in sc.init]
    lines.append("")
    lines.append(f"    def forward(self, {', '.join(['batch', *args])}):")
    lines += [f"        {line}" for line in sc.body]
    lines.append(f"        values = {dict_literal(sc.values, 8)}")
    lines.append(f"        return {''.join(o + ', ' for o in outs)}values")
    lines.append("")
    lines.append("    def graph_state(self):")
    lines.append('        """Parameters and buffers as a graph `state` keyed by inner id."""')
    lines.append("        return _graph_state(self)")
    return "\n".join(lines)


def module_classes(prep: Prepared, taken: set[str]) -> tuple[dict[str, str], list[str]]:
    """A class per module definition (a variant where instances' code differs), children
    before parents: ``(instance -> class name, class texts)``."""
    from blockprop.export.pytorch import class_name

    dtypes = {k: d for n in prep.nodes for k, d in zip(n.keys, n.dtypes, strict=True)}
    classes: dict[str, str] = {}
    by_text: dict[tuple[str, str], str] = {}
    texts: list[str] = []
    for inst in reversed(list(prep.instances.values())):  # children first
        if inst.tie is not None:
            continue
        text = module_class(prep, inst, classes, dtypes)
        name = by_text.get((inst.module, text))
        if name is None:
            name = base = class_name(inst.module)
            i = 2
            while name in taken:
                name, i = f"{base}{i}", i + 1
            taken.add(name)
            by_text[(inst.module, text)] = name
            texts.append(text.replace("{CLS}", name, 1))
        classes[inst.id] = name
    for inst in prep.instances.values():  # a tied instance runs its owner's code
        if inst.tie is not None and _shapes_within(prep, inst.id) != _shapes_within(prep, inst.tie):
            raise ExportError(
                Issue(
                    "not_exportable",
                    f"instance '{inst.id}' is tied to '{inst.tie}' but is fed other "
                    "shapes, so it cannot be the same PyTorch module",
                    [inst.id, inst.tie],
                )
            )
    return classes, texts


def _shapes_within(prep: Prepared, prefix: str) -> dict:
    """Every inner node's input and output shapes, by inner id: what a class's code
    depends on besides the module's definition."""
    n = len(prefix) + 1
    return {
        node.id[n:]: (node.shapes, sorted((node.in_shapes or {}).items()))
        for node in prep.nodes
        if node.id.startswith(prefix + SEP)
    }
