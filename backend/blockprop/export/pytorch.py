"""Export a graph as readable, self-contained PyTorch source: one ``nn.Module`` subclass.

The module holds an ``nn.Parameter`` per trainable (from the graph's state, else the engine's
seeded initialisation: the numbers match the engine for the same seed), and a
``forward(self, **inputs)`` with one line per node, in topological order, the node id in a
comment, returning ``(loss, values)``: the loss is the mean over the batch of the sum of the
cost nodes (``None`` without costs), ``values`` every node's value, batch axis first. Each
op's line comes from its ``torch`` rule in the registry.

>>> from blockprop.examples import get_example
>>> src = to_pytorch(get_example("linear_regression")["graph"])
>>> print(src[src.index("    def forward"):src.index("        values =")].rstrip())
    def forward(self, **inputs):
        x = inputs["x"]  # x (input) [batch, 1]
        y = inputs["y"]  # y (target) [batch, 1]
        lin = F.linear(x, self.lin_W, self.lin_b)  # lin (linear) [batch, 1]
        cost = ((lin - y) ** 2).sum(1)  # cost (squared_error) [batch]
        loss = cost.mean()  # the mean over the batch of the sum of the costs
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from blockprop import __version__
from blockprop.engine.graph import Issue
from blockprop.export import ExportError, Prepared, prepare

#: names the generated code uses itself (a node id never shadows them)
RESERVED = frozenset(
    {"self", "inputs", "batch", "loss", "values", "torch", "F", "nn", "STATE", "dtype"}
)

#: public nn.Module attributes an ``<node>_<param>`` name could hit (checked by the tests)
MODULE_ATTRS = frozenset(
    {
        "T_destination",
        "add_module",
        "call_super_init",
        "dump_patches",
        "extra_repr",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "ipu",
        "load_state_dict",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to_empty",
        "zero_grad",
        "graph_state",
        "PARAMETERS",
    }
)

WIDTH = 100


def _identifier(text: str, taken: set[str]) -> str:
    """A fresh Python identifier close to ``text`` (node ids may hold '-' or start with a
    digit)."""
    name = re.sub(r"\W", "_", text, flags=re.ASCII)
    if not name or name[0].isdigit():
        name = "n_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED:
        name += "_"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def class_name(graph_name: str) -> str:
    """``"Two-spiral classifier"`` -> ``"TwoSpiralClassifier"``; ``"BlockpropModel"`` if
    empty."""
    words = re.findall(r"[A-Za-z0-9]+", graph_name, flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        return "BlockpropModel"
    if name[0].isdigit():
        name = "Model" + name
    if keyword.iskeyword(name) or name in RESERVED:
        name += "Model"
    return name


def _num(v: Any) -> str:
    return repr(float(v))


def literal(a: np.ndarray, indent: int = 0) -> str:
    """A nested Python list literal of ``a`` (exact float reprs), wrapped at ``WIDTH``."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _num(a)
    pad = " " * (indent + 4)
    if a.ndim == 1:
        items = [_num(v) for v in a]
        one = "[" + ", ".join(items) + "]"
        if indent + len(one) <= WIDTH:
            return one
        lines, cur = [], ""
        for it in items:
            if cur and len(pad) + len(cur) + len(it) + 1 > WIDTH:
                lines.append(cur.rstrip())
                cur = ""
            cur += it + ", "
        lines.append(cur.rstrip())
        return "[\n" + "".join(f"{pad}{line}\n" for line in lines) + " " * indent + "]"
    inner = [literal(x, indent + 4) for x in a]
    one = "[" + ", ".join(inner) + "]"
    if "\n" not in one and indent + len(one) <= WIDTH:
        return one
    return "[\n" + "".join(f"{pad}{x},\n" for x in inner) + " " * indent + "]"


def _atom(expr: str) -> str:
    """``expr`` as an operand of a postfix (``.sum(1)``): parenthesised unless it already
    is an identifier, attribute or call."""
    if re.fullmatch(r"[A-Za-z_][\w.]*", expr):
        return expr
    m = re.match(r"[A-Za-z_][\w.]*\(", expr)
    if m and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr[m.end() - 1 :], m.end() - 1):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                return expr if i == len(expr) - 1 else f"({expr})"
    return f"({expr})"


def _shape(shape) -> str:
    return "[" + ", ".join(["batch", *map(str, shape)]) + "]"


class TorchHelper:
    """``pt`` in an op's ``torch`` rule: what the rule may need besides its inputs."""

    def __init__(self, gen: _Generator, node):
        self._gen = gen
        self._node = node
        #: per-sample shape of each input port, and of the (first) output
        self.shapes: dict[str, tuple] = dict(node.in_shapes or {})
        self.out_shape: tuple = node.shapes[0]
        #: "float" or "int", per input port
        self.dtypes: dict[str, str] = {p: gen.dtype[k] for p, k in node.sources.items()}

    @property
    def batch(self) -> str:
        """The batch size (a variable of ``forward``)."""
        self._gen.uses_batch = True
        return "batch"

    @property
    def fed(self) -> str:
        """The fed value of an input or target node."""
        return f"inputs[{json.dumps(self._node.id)}]"

    @staticmethod
    def dim(axis: int) -> int:
        """The tensor dim of a per-sample axis (the batch axis comes first)."""
        return axis + 1 if axis >= 0 else axis

    def _rank(self, like) -> int:
        return like if isinstance(like, int) else len(self.shapes[like])

    def sum_sample(self, expr: str, like: str | int, mean: bool = False) -> str:
        """Sum (or mean) of ``expr`` over each sample: ``like`` is the port whose per-sample
        shape ``expr`` has (or its rank)."""
        rank = self._rank(like)
        if rank == 0:
            return expr
        dims = "1" if rank == 1 else "(" + ", ".join(str(d + 1) for d in range(rank)) + ")"
        return f"{_atom(expr)}.mean({dims})" if mean else f"{_atom(expr)}.sum({dims})"

    def expand(self, expr: str) -> str:
        """``expr`` (per-sample shape, no batch axis) repeated for every sample."""
        return f"{expr}.expand({', '.join([self.batch, *map(str, self.out_shape)])})"

    def const(self, value: Any, name: str = "value") -> str:
        """A fixed tensor (a buffer of the module, converted by ``.to()`` / ``.double()``)."""
        return self._gen.buffer(self._node.id, name, np.asarray(value, dtype=np.float64))


class _Generator:
    def __init__(self, prep: Prepared):
        self.prep = prep
        self.taken: set[str] = set()
        self.var: dict[str, str] = {}  # value key -> local variable
        self.dtype: dict[str, str] = {}  # value key -> "float" | "int"
        self.uses_batch = False
        self.params: list[tuple[str, str, str]] = []  # (attribute, node, name)
        self.buffers: list[tuple[str, np.ndarray]] = []
        self.attrs: set[str] = set(MODULE_ATTRS)

    def attribute(self, node_id: str, name: str) -> str:
        base = re.sub(r"\W", "_", f"{node_id}_{name}", flags=re.ASCII)
        if base[0].isdigit():
            base = "p_" + base
        attr, i = base, 2
        while attr in self.attrs or hasattr(object, attr):
            attr, i = f"{base}_{i}", i + 1
        self.attrs.add(attr)
        return attr

    def buffer(self, node_id: str, name: str, value: np.ndarray) -> str:
        attr = self.attribute(node_id, name)
        self.buffers.append((attr, value))
        return f"self.{attr}"

    def line(self, node) -> str:
        op = node.op
        env: dict[str, Any] = dict(node.params)
        for t in op.trainables:
            env[t.name] = None
        for name in self.prep.params.get(node.id, {}):
            attr = self.attribute(node.id, name)
            self.params.append((attr, node.id, name))
            env[name] = f"self.{attr}"
        rank = max([len(s) for s in (node.in_shapes or {}).values()] + [len(node.shapes[0])])
        for port, key in node.sources.items():
            expr = self.var[key]
            missing = rank - len(node.in_shapes[port])
            if op.broadcast and missing > 0:  # line up per-sample axes, as the executor does
                expr = f"{expr}[:, {', '.join(['None'] * missing)}]"
            env[port] = expr
        pt = TorchHelper(self, node)
        if isinstance(op.torch, str):
            result = op.torch.format(**env)
        else:
            result = op.rules["torch"]({**env, "pt": pt})
        results = list(result) if op.multi_output else [result]
        names = []
        for key, dt in zip(node.keys, node.dtypes, strict=True):
            port = key.partition(":")[2]
            names.append(_identifier(f"{node.id}_{port}" if port else node.id, self.taken))
            self.var[key] = names[-1]
            self.dtype[key] = dt
        existing = set(self.var.values()) - set(names)
        # a node whose value *is* another node's gets its own tensor (and its own .grad)
        results = [f"{r}.clone()" if r in existing else r for r in results]
        shapes = ", ".join(_shape(s) for s in node.shapes)
        kind = op.name + (", int" if node.dtypes[0] == "int" else "")
        return f"{', '.join(names)} = {', '.join(results)}  # {node.id} ({kind}) {shapes}"


class SourceTooLarge(ExportError):
    """The parameters would make the source too long (code ``too_large``)."""


def to_pytorch(
    doc: Mapping[str, Any],
    *,
    seed: int = 0,
    state: Mapping | None = None,
    max_bytes: int | None = None,
    max_numbers: int | None = None,
) -> str:
    """PyTorch source for ``doc``: a module named after the graph (see the module
    docstring). Raises ``GraphError`` for an invalid graph, ``ExportError``
    (``not_exportable``) for a node whose op has no PyTorch rule, :class:`SourceTooLarge`
    when the parameters and constants hold more than ``max_numbers`` numbers (the source
    writes each one out, about 20 characters)."""
    prep = prepare(doc, "pytorch", seed=seed, state=state, max_bytes=max_bytes)
    gen = _Generator(prep)
    body = [gen.line(node) for node in prep.nodes]
    if max_numbers is not None:
        count = sum(a.size for ps in prep.params.values() for a in ps.values())
        count += sum(value.size for _, value in gen.buffers)
        if count > max_numbers:
            raise SourceTooLarge(
                Issue(
                    "too_large",
                    f"the graph holds {count:,} parameter values; PyTorch source writes each "
                    f"one out and is limited to {max_numbers:,} here (export to ONNX, or use "
                    "the command line: `blockprop export GRAPH --to pytorch`)",
                )
            )
    fed = prep.fed
    if gen.uses_batch:
        first = next((n for n in fed if n.op.source == "input"), fed[0] if fed else None)
        size = f"inputs[{json.dumps(first.id)}].shape[0]" if first is not None else "1"
        body.insert(0, f"batch = {size}  # the batch size")
    costs = [gen.var[n.id] for n in prep.costs]
    if costs:
        total = costs[0] if len(costs) == 1 else "(" + " + ".join(costs) + ")"
        body.append(f"loss = {total}.mean()  # the mean over the batch of the sum of the costs")
    else:
        body.append("loss = None  # the graph has no cost node")
    entries = [f"{json.dumps(k)}: {v}" for k, v in gen.var.items()]
    one = "values = {" + ", ".join(entries) + "}"
    if len(one) + 8 <= WIDTH:
        body.append(one)
    else:
        body.append("values = {\n" + "".join(f"            {e},\n" for e in entries) + "        }")
    body.append("return loss, values")

    cls = class_name(prep.name)
    title = prep.name or "A Blockprop graph"
    origin = "the graph's trained state" if prep.from_state else f"seed {prep.seed}"
    inputs_doc = []
    for n in fed:
        shape = _shape(n.shapes[0])
        if n.dtypes[0] == "int":
            inputs_doc.append(f"        {n.id}: int64 class labels {shape}")
        else:
            inputs_doc.append(f"        {n.id}: float {shape}")
    out: list[str] = []
    out.append(f'"""{title}: exported from Blockprop {__version__} as a PyTorch module.')
    out.append("")
    out.append(f"    model = {cls}()  # or {cls}(dtype=torch.float64): the engine's precision")
    out.append("    loss, values = model(" + ", ".join(f"{n.id}=..." for n in fed) + ")")
    out.append("")
    out.append("Every value has a leading batch axis. The parameters start from " + origin)
    out.append("(STATE, at the end of this file); model.graph_state() gives them back in the")
    out.append("graph document's `state` layout.")
    out.append('"""')
    out += ["", "import torch", "import torch.nn.functional as F", "from torch import nn", ""]
    out.append("")
    out.append(f"class {cls}(nn.Module):")
    out.append(f'    """{title}, one line per node of the graph.')
    out.append("")
    if inputs_doc:
        out.append("    forward(**inputs) takes, batch axis first:")
        out.append("")
        out += inputs_doc
        out.append("")
    out.append("    and returns (loss, values): the mean over the batch of the sum of the cost")
    out.append("    nodes (None without costs), and every node's value by node id.")
    out.append('    """')
    out.append("")
    if gen.params:
        out.append("    #: attribute -> (node, parameter) in the graph")
        out.append("    PARAMETERS = {")
        for attr, nid, name in gen.params:
            out.append(f"        {json.dumps(attr)}: ({json.dumps(nid)}, {json.dumps(name)}),")
        out.append("    }")
    else:
        out.append("    PARAMETERS = {}")
    out.append("")
    out.append("    def __init__(self, dtype=torch.float32):")
    out.append("        super().__init__()")
    for attr, nid, name in gen.params:
        ref = f"STATE[{json.dumps(nid)}][{json.dumps(name)}]"
        out.append(f"        self.{attr} = nn.Parameter(torch.tensor({ref}, dtype=dtype))")
    for attr, value in gen.buffers:
        lit = literal(value, 8)
        out.append(
            f"        self.register_buffer({json.dumps(attr)}, torch.tensor({lit}, dtype=dtype))"
        )
    out.append("")
    out.append("    def forward(self, **inputs):")
    for line in body:
        out.append("        " + line)
    out.append("")
    out.append("    def graph_state(self):")
    out.append('        """The parameters as a Blockprop graph `state`: {node: {name: lists}}."""')
    out.append("        state = {}")
    out.append("        for attr, (node, name) in self.PARAMETERS.items():")
    out.append(
        "            state.setdefault(node, {})[name] = getattr(self, attr).detach().tolist()"
    )
    out.append("        return state")
    out.append("")
    out.append("")
    out.append(f"#: the initial parameters ({origin}), by node and name")
    if prep.params:
        out.append("STATE = {")
        for nid, ps in prep.params.items():
            out.append(f"    {json.dumps(nid)}: {{")
            for name, arr in ps.items():
                out.append(f"        {json.dumps(name)}: {literal(arr, 8)},")
            out.append("    },")
        out.append("}")
    else:
        out.append("STATE = {}")
    return "\n".join(out) + "\n"


__all__ = ["SourceTooLarge", "TorchHelper", "class_name", "literal", "to_pytorch"]
