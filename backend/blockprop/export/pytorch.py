"""Export a graph as readable, self-contained PyTorch source: one ``nn.Module`` subclass.

The module holds an ``nn.Parameter`` per trainable (from the graph's state, else the engine's
seeded initialisation: the numbers match the engine for the same seed), and a
``forward(self, **inputs)`` with one line per node, in topological order, the node id in a
comment, returning ``(loss, values)``: the loss is the mean over the batch of the sum of the
cost nodes (``None`` without costs), ``values`` every node's value, batch axis first. Each
op's line comes from its ``torch`` rule in the registry. Inputs are raw: an input the
document's ``normalization`` scales is first ``(raw - mean) / std`` (buffers), in its line.

Text from the graph is data, never code: importing the module runs nothing the graph's author
wrote. The graph's name is the class attribute ``GRAPH_NAME`` (a ``repr`` string literal) and
a sanitised ``# Graph:`` comment; node ids and params appear only as string literals, as
identifiers made of ASCII letters, digits and '_' (never a keyword or builtin), and in
one-line comments (:func:`~blockprop.export.plain_text`). No docstring holds text from the
graph. Each forward line is checked (:func:`check_expression`) before it is written.

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

import ast
import builtins
import keyword
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from blockprop import __version__
from blockprop.engine.graph import Issue
from blockprop.export import ExportError, Prepared, plain_text, prepare
from blockprop.export.pytorch_modules import HELPERS, module_classes, scope

#: names the generated code uses itself (a node id never shadows them)
RESERVED = frozenset(
    {"self", "inputs", "batch", "loss", "values", "torch", "F", "nn", "STATE", "dtype", "state"}
)

#: names no generated identifier takes: keywords, soft keywords (``type`` is one from Python
#: 3.12), builtins and the names the generated code uses
_TAKEN_BY_PYTHON = frozenset(
    {*keyword.kwlist, *keyword.softkwlist, "type", *dir(builtins), *RESERVED}
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
        "BUFFERS",
        "GRAPH_NAME",
        "INPUTS",
        "OUTPUTS",
        "MODULES",
        "MODULE_NAME",
    }
)

WIDTH = 100


def safe_name(text: str, prefix: str = "n_", suffix: str = "_") -> str:
    """``text`` as a Python identifier of ASCII letters, digits and '_', at most 64 long:
    other characters become '_'; ``prefix`` goes before a leading digit (or an empty name)
    and ``suffix`` after a keyword, soft keyword, builtin or name the generated code uses.
    ASCII only, so that no two names differ only by what NFKC normalisation folds."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(text))[:64]
    if not name or name[0].isdigit():
        name = prefix + name
    if name in _TAKEN_BY_PYTHON:
        name += suffix
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not keyword.iskeyword(name)
    return name


def _identifier(text: str, taken: set[str]) -> str:
    """A fresh Python identifier close to ``text`` (node ids may hold '-' or start with a
    digit)."""
    name = base = safe_name(text)
    i = 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def class_name(graph_name: str) -> str:
    """``"Two-spiral classifier"`` -> ``"TwoSpiralClassifier"``; ``"BlockpropModel"`` if
    empty."""
    words = re.findall(r"[A-Za-z0-9]+", str(graph_name), flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:64]
    if not name:
        return "BlockpropModel"
    return safe_name(name, prefix="Model", suffix="Model")


def pystr(text: str) -> str:
    """A Python string literal of ``text``: ``repr``, in double quotes when that needs no
    escape. Nothing in ``text`` can end the literal: ``repr`` escapes quotes, backslashes,
    line breaks, every non-printable character and lone surrogates.

    >>> print(pystr("a-b"), pystr("it's"), pystr('say "hi"\\n'))
    "a-b" "it's" 'say "hi"\\n'
    """
    text = str(text)
    lit = str.__repr__(text)
    if lit[0] == "'" and '"' not in text:
        lit = '"' + lit[1:-1] + '"'  # no quote inside: the escapes are the same
    return lit


def _code_value(value: Any) -> str:
    """An op param as a Python literal for a ``torch`` template: numbers, booleans and None
    as themselves, strings (and lists) quoted; anything else is refused."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return repr(float(value))
    if isinstance(value, str):
        return pystr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_code_value(v) for v in value) + "]"
    raise TypeError(f"cannot write the param value {value!r} as a Python literal")


#: root names a forward line may use besides the local variables of earlier nodes
_LINE_NAMES = frozenset({"self", "inputs", "batch", "torch", "F", "None", "True", "False"})
#: syntax a forward line's expression is made of: calls, attributes, operators, subscripts
#: and constants; no lambda, comprehension, walrus, f-string or starred argument
_LINE_NODES = (
    ast.Expression, ast.Call, ast.Attribute, ast.Name, ast.Constant, ast.Subscript,
    ast.Slice, ast.Tuple, ast.List, ast.BinOp, ast.UnaryOp, ast.Compare, ast.keyword,
    ast.operator, ast.unaryop, ast.cmpop, ast.expr_context,
)  # fmt: skip


def check_expression(expr: str, names: set[str]) -> str | None:
    """Why ``expr`` (a forward line's right-hand side) is not plain tensor code, or None.

    The exporter's last guard against an op rule that pastes a param into code: the
    expression must parse, use only the names of earlier values, ``self``, ``inputs``,
    ``batch``, ``torch`` and ``F``, no attribute starting with '_' and no syntax beyond
    calls, operators, subscripts and constants."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        return f"it is not a Python expression ({e.msg})"
    for n in ast.walk(tree):
        if not isinstance(n, _LINE_NODES):
            return f"it uses {type(n).__name__}"
        if isinstance(n, ast.Name) and n.id not in names and n.id not in _LINE_NAMES:
            return f"it uses the name {n.id!r}"
        if isinstance(n, ast.Attribute) and n.attr.startswith("_"):
            return f"it uses the attribute {n.attr!r}"
        if isinstance(n, ast.keyword) and n.arg is None:
            return "it unpacks keyword arguments"
    return None


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
        return f"inputs[{pystr(self._node.id)}]"

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
        lid = self._gen.local(self._node.id)
        return self._gen.buffer(lid, name, np.asarray(value, dtype=np.float64))


class _Generator:
    """Writes the lines of one class: the graph's, or one module's (``prefix``: the flat id
    of the instance it is written from; its nodes are named by their ids inside it)."""

    def __init__(self, prep: Prepared, prefix: str = ""):
        self.prep = prep
        self.prefix = prefix + "/" if prefix else ""
        self.taken: set[str] = set()
        self.var: dict[str, str] = {}  # value key -> local variable
        self.dtype: dict[str, str] = {}  # value key -> "float" | "int"
        self.uses_batch = False
        self.params: list[tuple[str, str, str]] = []  # (attribute, node, name)
        self.states: list[tuple[str, str, str]] = []  # buffers (running statistics), alike
        self.buffers: list[tuple[str, np.ndarray]] = []
        self.attrs: set[str] = set(MODULE_ATTRS)

    def batch_name(self) -> str:
        """The batch size variable (``forward`` defines it once something uses it)."""
        self.uses_batch = True
        return "batch"

    def local(self, key: str) -> str:
        """A flat id or value key as seen inside this class (``b1/l`` is ``l`` in b1's)."""
        return key[len(self.prefix) :] if self.prefix and key.startswith(self.prefix) else key

    def attribute(self, node_id: str, name: str) -> str:
        base = safe_name(f"{node_id}_{name}", prefix="p_")
        if base.startswith("_"):  # "self.__x" would be name-mangled; "_x" is nn.Module's
            base = "p" + base
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
        lid = self.local(node.id)
        for name in self.prep.params.get(node.id, {}):
            attr = self.attribute(lid, name)
            self.params.append((attr, lid, name))
            env[name] = f"self.{attr}"
        for name in self.prep.buffers.get(node.id, {}):  # by id inside the class, as params
            attr = self.attribute(lid, name)
            self.states.append((attr, lid, name))
            env[name] = f"self.{attr}"
        rank = max([len(s) for s in (node.in_shapes or {}).values()] + [len(node.shapes[0])])
        for port, key in node.sources.items():
            expr = self.var[key]
            missing = rank - len(node.in_shapes[port])
            if op.broadcast and missing > 0:  # line up per-sample axes, as the executor does
                expr = f"{expr}[:, {', '.join(['None'] * missing)}]"
            env[port] = expr
        pt = TorchHelper(self, node)
        if isinstance(op.torch, str):  # params as literals: a template never pastes text
            result = op.torch.format(**{**env, **self._param_literals(node)})
        else:
            result = op.rules["torch"]({**env, "pt": pt})
        scaled = node.id in self.prep.normalization
        if scaled:  # the raw input, scaled as the training data was
            mean, std = self.prep.normalization[node.id]
            result = (
                f"({result} - {self.buffer(node.id, 'norm_mean', mean)}) "
                f"/ {self.buffer(node.id, 'norm_std', std)}"
            )
        results = list(result) if op.multi_output else [result]
        names = []
        for key, dt in zip(node.keys, node.dtypes, strict=True):
            port = key.partition(":")[2]
            names.append(_identifier(f"{lid}_{port}" if port else lid, self.taken))
            self.var[key] = names[-1]
            self.dtype[key] = dt
        existing = set(self.var.values()) - set(names)
        # a node whose value *is* another node's gets its own tensor (and its own .grad)
        results = [f"{r}.clone()" if r in existing else r for r in results]
        self._check(node, results, existing)
        shapes = ", ".join(_shape(s) for s in node.shapes)
        kind = plain_text(op.name) + (", int" if node.dtypes[0] == "int" else "")
        comment = f"{plain_text(lid, 64)} ({kind}) {shapes}"
        if scaled:
            comment += ", normalised: (raw - training mean) / training std"
        return f"{', '.join(names)} = {', '.join(results)}  # {comment}"

    @staticmethod
    def _param_literals(node) -> dict[str, str]:
        try:
            return {k: _code_value(v) for k, v in node.params.items()}
        except TypeError as e:
            raise ExportError(Issue("bad_param", f"node '{node.id}': {e}", [node.id])) from None

    def _check(self, node, results: list[str], names: set[str]) -> None:
        """Refuse a line whose expression is not plain tensor code (see check_expression)."""
        for expr in results:
            why = check_expression(str(expr), names)
            if why is not None:
                raise ExportError(
                    Issue(
                        "not_exportable",
                        f"node '{node.id}' ({node.op.name}): its PyTorch rule gave an "
                        f"expression the exporter does not write: {why}",
                        [node.id],
                    )
                )


def _input_entry(node) -> str:
    """An ``INPUTS`` entry: ``"x": ("float", [2]),`` (class labels: int64)."""
    dtype = "int64" if node.dtypes[0] == "int" else "float"
    shape = "[" + ", ".join(str(int(d)) for d in node.shapes[0]) + "]"
    return f"{pystr(node.id)}: ({pystr(dtype)}, {shape}),"


def _dict_lines(name: str, entries: list[str]) -> list[str]:
    """A class attribute ``name`` holding a dict literal, one entry a line."""
    if not entries:
        return [f"    {name} = {{}}"]
    return [f"    {name} = {{", *(f"        {e}" for e in entries), "    }"]


class SourceTooLarge(ExportError):
    """The parameters would make the source too long (code ``too_large``)."""


def to_pytorch(
    doc: Mapping[str, Any],
    *,
    seed: int = 0,
    state: Mapping | None = None,
    max_bytes: int | None = None,
    max_numbers: int | None = None,
    normalization: Mapping | None = None,
    normalize: bool = True,
) -> str:
    """PyTorch source for ``doc``: a module named after the graph (see the module
    docstring). Raises ``GraphError`` for an invalid graph, ``ExportError``
    (``not_exportable``) for a node whose op has no PyTorch rule, :class:`SourceTooLarge`
    when the parameters and constants hold more than ``max_numbers`` numbers (the source
    writes each one out, about 20 characters)."""
    prep = prepare(
        doc,
        "pytorch",
        seed=seed,
        state=state,
        max_bytes=max_bytes,
        normalization=normalization,
        normalize=normalize,
    )
    gen = _Generator(prep)
    cls = class_name(prep.name)
    classes, class_texts = module_classes(prep, {cls}) if prep.instances else ({}, [])
    sc = scope(gen, prep, "", classes, "STATE") if prep.instances else None
    body = sc.body if sc is not None else [gen.line(node) for node in prep.nodes]
    if max_numbers is not None:
        count = sum(a.size for ps in prep.params.values() for a in ps.values())
        count += sum(value.size for _, value in gen.buffers)
        count += sum(a.size for bs in prep.buffers.values() for a in bs.values())
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
        size = f"inputs[{pystr(first.id)}].shape[0]" if first is not None else "1"
        body.insert(0, f"batch = {size}  # the batch size")
    # costs inside modules are read back from the values, by flat id
    costs = [gen.var.get(n.id) or f"values[{pystr(n.id)}]" for n in prep.costs]
    total = costs[0] if len(costs) == 1 else "(" + " + ".join(costs) + ")"
    loss = f"loss = {total}.mean()  # the mean over the batch of the sum of the costs"
    inner_costs = any(n.id not in gen.var for n in prep.costs)
    if costs and not inner_costs:
        body.append(loss)
    elif not costs:
        body.append("loss = None  # the graph has no cost node")
    entries = sc.values if sc is not None else [f"{pystr(k)}: {v}" for k, v in gen.var.items()]
    one = "values = {" + ", ".join(entries) + "}"
    if len(one) + 8 <= WIDTH:
        body.append(one)
    else:
        body.append("values = {\n" + "".join(f"            {e},\n" for e in entries) + "        }")
    if costs and inner_costs:
        body.append(loss)
    body.append("return loss, values")

    # nn.Module.__call__ takes `self` itself: a fed node called "self" cannot be a keyword
    by_dict = any(n.id == "self" for n in fed)
    call = "model(inputs)  # a dict:" if by_dict else "model(**inputs)  #"
    origin = "the graph's trained state" if prep.from_state else f"seed {prep.seed}"
    # no text of the graph goes into a docstring: only literals, identifiers and comments
    out: list[str] = []
    out.append(f'"""A Blockprop graph as a PyTorch module, exported from Blockprop {__version__}.')
    out.append("")
    out.append(f"    model = {cls}()  # or {cls}(dtype=torch.float64): the engine's precision")
    out.append(f"    loss, values = {call} a tensor per node in {cls}.INPUTS")
    out.append("")
    if prep.normalization:
        scaled = ", ".join(sorted(prep.normalization))
        out.append(f"Inputs are raw data: forward's first step scales input {scaled} as the")
        out.append(
            "training data was, (raw - mean) / std (the *_norm_mean and *_norm_std buffers)."
        )
    out.append("Every value has a leading batch axis. The parameters start from " + origin)
    out.append("(STATE, at the end of this file); model.graph_state() gives them back in the")
    out.append(f"graph document's `state` layout. The graph's name is {cls}.GRAPH_NAME.")
    out.append('"""')
    if plain_text(prep.name):  # below the docstring: never line 1 or 2 (a coding declaration)
        out += ["", f"# Graph: {plain_text(prep.name)}"]
    out += ["", "import torch", "import torch.nn.functional as F", "from torch import nn", ""]
    if prep.instances:
        out += HELPERS.strip("\n").split("\n")
        out += class_texts
        out.append("")
    out.append("")
    out.append(f"class {cls}(nn.Module):")
    out.append('    """The graph, one line per node: forward(**inputs) takes a tensor per fed')
    out.append("    node (INPUTS), batch axis first, and returns (loss, values): the mean over the")
    out.append("    batch of the sum of the cost nodes (None without costs), and every node's")
    out.append("    value by node id.")
    out.append('    """')
    out.append("")
    out.append("    #: the graph's name")
    out.append(f"    GRAPH_NAME = {pystr(prep.name)}")
    out.append("    #: forward's inputs: node id -> (dtype, per-sample shape), batch axis first")
    out += _dict_lines("INPUTS", [_input_entry(n) for n in fed])
    out.append("    #: attribute -> (node, parameter) in the graph")
    params = [f"{pystr(a)}: ({pystr(nid)}, {pystr(name)})," for a, nid, name in gen.params]
    out += _dict_lines("PARAMETERS", params)
    if gen.states:
        out.append("    #: attribute -> (node, buffer): non-trainable state (running statistics)")
        states = [f"{pystr(a)}: ({pystr(nid)}, {pystr(name)})," for a, nid, name in gen.states]
        out += _dict_lines("BUFFERS", states)
    if sc is not None:
        out.append("    #: attribute -> the id prefix of an instance with its own parameters")
        out += _dict_lines("MODULES", sc.modules)
    out.append("")
    out.append("    def __init__(self, dtype=torch.float32):")
    out.append("        super().__init__()")
    for attr, nid, name in gen.params:
        ref = f"STATE[{pystr(nid)}][{pystr(name)}]"
        out.append(f"        self.{attr} = nn.Parameter(torch.tensor({ref}, dtype=dtype))")
    for attr, nid, name in gen.states:
        ref = f"STATE[{pystr(nid)}][{pystr(name)}]"
        out.append(f"        self.register_buffer({pystr(attr)}, torch.tensor({ref}, dtype=dtype))")
    for attr, value in gen.buffers:
        lit = literal(value, 8)
        out.append(f"        self.register_buffer({pystr(attr)}, torch.tensor({lit}, dtype=dtype))")
    out += [f"        {line}" for line in (sc.init if sc is not None else [])]
    out.append("")
    if by_dict:
        out.append('    def forward(self, inputs, /):  # a dict: a fed node is called "self"')
    else:
        out.append("    def forward(self, **inputs):")
    for line in body:
        out.append("        " + line)
    out.append("")
    out.append("    def graph_state(self):")
    out.append('        """Parameters and buffers as a graph `state`: {node: {name: lists}}."""')
    if sc is not None:
        out.append("        return _graph_state(self)")
    else:
        out.append("        state = {}")
        table = "{**self.PARAMETERS, **self.BUFFERS}" if gen.states else "self.PARAMETERS"
        out.append(f"        for attr, (node, name) in {table}.items():")
        out.append(
            "            state.setdefault(node, {})[name] = getattr(self, attr).detach().tolist()"
        )
        out.append("        return state")
    out.append("")
    out.append("")
    out.append(f"#: the initial parameters ({origin}), by node and name")
    state = {nid: dict(ps) for nid, ps in prep.params.items()}
    for nid, bs in prep.buffers.items():
        state.setdefault(nid, {}).update(bs)
    if state:
        out.append("STATE = {")
        for nid, ps in state.items():
            out.append(f"    {pystr(nid)}: {{")
            for name, arr in ps.items():
                out.append(f"        {pystr(name)}: {literal(arr, 8)},")
            out.append("    },")
        out.append("}")
    else:
        out.append("STATE = {}")
    return "\n".join(out) + "\n"


__all__ = [
    "SourceTooLarge",
    "TorchHelper",
    "check_expression",
    "class_name",
    "literal",
    "pystr",
    "safe_name",
    "to_pytorch",
]
