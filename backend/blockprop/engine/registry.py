"""The op registry: every block of the notation is declared once, as an :class:`OpDef`.

An op declaration carries everything the rest of the system needs to know about a block:
its forward rule, one vector-Jacobian product (VJP) rule per input and per trainable
parameter, a shape rule (run before any array exists), its parameter spec, its trainable
parameters with their initialisers, UI metadata, LaTeX formulas and sample inputs for the
tests. The executor, the API, the exporters and the frontend all read this registry; no
other module lists op names.

Rules are small pure functions whose arguments are **bound by name** when a graph is
compiled (like pytest fixtures). A rule simply names what it needs:

- input ports (``x``, ``logits``...): the input arrays, batch axis first;
- trainable parameters (``W``, ``b``): the live arrays, no batch axis;
- op params (``out_features``, ``slope``...): plain Python values;
- buffers (``running_mean``...): live arrays of non-trainable state, no batch axis, which a
  training forward may update in place (see :class:`Buffer`);
- scratch buffers declared by the op (``diff``, ``mask``...): residuals kept from forward;
- ``out``: a preallocated buffer to write into (``None`` when called eagerly; a rule then
  allocates), ``g`` (dC/d output) and ``ans`` (the forward output) for VJP rules,
  ``training`` and ``rng`` for stochastic forwards (VJP rules may ask for ``training`` too:
  batch statistics are differentiated only when they were used), ``batch``, ``ones`` (a read-only
  vector of ``batch`` ones: ``np.dot(ones, g)`` is the fastest batch sum) and
  ``float_dtype``.

A rule returns its result; it may write it into ``out`` and return ``out``. A VJP rule
returns ``None`` for a zero gradient. VJP rules for broadcasting ops return the gradient
in the *output's* shape: the executor sums it down to the input's shape (one helper,
not every rule).

>>> from blockprop.engine import registry
>>> registry.get("relu")
<op relu (function): ReLU>
"""

from __future__ import annotations

import inspect
import math
import re
import string
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CATEGORIES = ("variable", "function", "cost")
#: "ints": a whole number, or a list of them with one entry per spatial axis (a kernel size
#: 3 or [3, 5], as PyTorch's Conv2d takes); the param's ``axes`` says how many
PARAM_TYPES = ("int", "ints", "float", "bool", "str", "shape", "tensor")
DTYPES = ("float", "int", "any")

#: names a rule may ask for besides the op's own ports, params, trainables and scratch
RESERVED = ("g", "ans", "out", "training", "rng", "batch", "ones", "float_dtype", "dtypes")

Shape = tuple[int, ...]


class ShapeError(Exception):
    """Raised by a shape rule: ``port`` received a shape (or dtype) it cannot take.

    ``expected`` says what the port wants, in words a student understands
    ("a vector", "the same shape as y"); ``got`` is what arrived.
    """

    def __init__(self, port: str | None, expected: str, got: str | None = None):
        self.port, self.expected, self.got = port, expected, got
        super().__init__(f"{port}: expected {expected}" + (f", got {got}" if got else ""))


def fmt_shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def expect(condition: bool, port: str | None, expected: str, got: Shape | str | None = None):
    """Shape-rule helper: raise :class:`ShapeError` unless ``condition`` holds."""
    if not condition:
        if got is not None and not isinstance(got, str):
            got = fmt_shape(got)
        raise ShapeError(port, expected, got)


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Port:
    """An input port. ``dtype`` is what it accepts: ``float`` values, ``int`` labels or ``any``.

    ``binary_labels`` says how a trainer feeds two-class labels into a target port: ``"01"``
    or ``"signs"`` (−1/+1, as the hinge loss wants).
    """

    name: str
    doc: str = ""
    dtype: str = "float"
    binary_labels: str = "01"
    #: how the port is written on the block, in the notes' notation (the name when empty): a
    #: cost's prediction port `y` reads ȳ and its `target` reads y, the desired output
    label: str = ""


_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """A user-set parameter of an op (not trained): type, default, bounds, choices, doc.

    ``required=True`` params have no default. ``nullable`` params accept ``null``
    (their default may then be ``None``). ``axes`` (type ``ints`` only) is the number of
    spatial axes a list must cover; ``min`` and ``max`` bound each entry.
    """

    name: str
    type: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    doc: str = ""
    required: bool = False
    nullable: bool = False
    axes: int | None = None

    def __post_init__(self):
        if (self.type == "ints") != (self.axes is not None and self.axes >= 1):
            raise ValueError(f"param {self.name!r}: type 'ints' and only it needs axes >= 1")

    def spec(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices is not None else None,
            "doc": self.doc,
            "required": self.required,
            "axes": self.axes,
        }


@dataclass(frozen=True)
class Trainable:
    """A trainable parameter owned by an op (``W`` and ``b`` of ``linear``).

    ``shape`` is a rule bound by name (input shapes and params) returning the shape;
    ``shape_rule`` says the same in words for the op spec. ``init`` is an initialiser
    name (see :data:`INITIALISERS`) or a rule returning one (e.g. ``lambda init: init``).
    ``when`` (bound to params) says whether the parameter exists (``lambda bias: bias``).
    """

    name: str
    shape: Callable[..., Shape]
    shape_rule: str
    init: str | Callable[..., str] = "zeros"
    when: Callable[..., bool] | None = None
    doc: str = ""
    #: weights that L1/L2 regularisation applies to (not biases or prototypes)
    regularize: bool = False
    #: a rule (bound like ``shape``) giving the fan-in the initialiser uses instead of the
    #: shape's: a bias drawn like PyTorch's, U(±1/√fan_in of its weights)
    fan_in: Callable[..., int] | None = None


@dataclass(frozen=True)
class Buffer:
    """Non-trainable state owned by an op (``running_mean`` of ``batch_norm``).

    Like a :class:`Trainable` it has a ``shape`` rule (bound to input shapes and params) and
    lives with the parameters in a graph's ``state`` (checkpoints, exports, explain carry
    it), but no optimiser touches it and it has no gradient: the op's forward updates it in
    place while training. It starts filled with ``fill``.
    """

    name: str
    shape: Callable[..., Shape]
    shape_rule: str
    fill: float = 0.0
    doc: str = ""


@dataclass(frozen=True)
class SampleData:
    """How to draw sample values for a port in the registry-walking tests."""

    kind: str  # normal | positive | labels | probs | signs | onehot
    shape: Shape = ()
    classes: int = 0


def positive(*shape: int) -> SampleData:
    """Values in (0.5, 2): for ``log`` and friends."""
    return SampleData("positive", tuple(shape))


def labels(classes: int) -> SampleData:
    """Integer class labels in ``[0, classes)`` (per-sample shape ``[]``)."""
    return SampleData("labels", (), classes)


def probs(*shape: int) -> SampleData:
    """Values in (0, 1): binary targets."""
    return SampleData("probs", tuple(shape))


def signs(*shape: int) -> SampleData:
    """Values in {-1, +1}: hinge targets."""
    return SampleData("signs", tuple(shape))


def onehot(classes: int) -> SampleData:
    """One-hot float rows of length ``classes``."""
    return SampleData("onehot", (classes,), classes)


@dataclass(frozen=True)
class Sample:
    """Sample inputs (port -> per-sample shape or :class:`SampleData`) and params for tests."""

    inputs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)


def sample_array(spec, batch: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Draw a batch of sample values for a port from a :class:`Sample` entry."""
    if not isinstance(spec, SampleData):
        spec = SampleData("normal", tuple(spec))
    shape = (batch, *spec.shape)
    if spec.kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    if spec.kind == "positive":
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    if spec.kind == "probs":
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    if spec.kind == "signs":
        return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(dtype)
    if spec.kind == "labels":
        return rng.integers(0, spec.classes, shape).astype(np.int64)
    if spec.kind == "onehot":
        return np.eye(spec.classes, dtype=dtype)[rng.integers(0, spec.classes, batch)]
    raise ValueError(f"unknown sample kind {spec.kind!r}")


# --------------------------------------------------------------------------- binding by name


@dataclass(frozen=True)
class Rule:
    """A rule function with the argument names it binds (resolved once, at registration)."""

    fn: Callable
    names: tuple[str, ...]
    defaults: dict

    @classmethod
    def of(cls, fn: Callable, what: str) -> Rule:
        names, defaults = [], {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                raise TypeError(f"{what}: rule arguments are bound by name; use plain parameters")
            names.append(p.name)
            if p.default is not p.empty:
                defaults[p.name] = p.default
        return cls(fn, tuple(names), defaults)

    def args(self, env: dict) -> list:
        """The positional arguments for this rule, looked up by name in ``env``."""
        out = []
        for n in self.names:
            if n in env:
                out.append(env[n])
            elif n in self.defaults:
                out.append(self.defaults[n])
            else:
                raise KeyError(n)
        return out

    def __call__(self, env: dict):
        return self.fn(*self.args(env))


# --------------------------------------------------------------------------- initialisers


def _fans(shape: Shape) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    return math.prod(shape[1:]), shape[0]  # (out, in...) layout: fan_in, fan_out


# Each takes an optional fan_in: a bias's comes from its layer's weights (Trainable.fan_in).


def _zeros(rng, shape, fan_in=None):
    return np.zeros(shape)


def _uniform(rng, shape, fan_in=None):
    fan_in = fan_in or _fans(shape)[0]
    a = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-a, a, shape)


def _xavier(rng, shape, fan_in=None):
    fans_in, fan_out = _fans(shape)
    a = math.sqrt(6.0 / ((fan_in or fans_in) + fan_out))
    return rng.uniform(-a, a, shape)


def _he(rng, shape, fan_in=None):
    fan_in = fan_in or _fans(shape)[0]
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


def _ones(rng, shape, fan_in=None):
    return np.ones(shape)


def _normal(rng, shape, fan_in=None):
    return rng.standard_normal(shape)


#: initialiser name -> fn(rng, shape) -> float64 array. Shapes are (out, in...) like torch.
INITIALISERS: dict[str, Callable[[np.random.Generator, Shape], np.ndarray]] = {
    "zeros": _zeros,
    "uniform": _uniform,  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's Linear default
    "xavier": _xavier,  # Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
    "he": _he,  # Kaiming normal: N(0, 2 / fan_in)
    "ones": _ones,  # a norm's scale gamma
    "normal": _normal,  # N(0, 1), PyTorch's Embedding default
}

#: the initialisers a user picks for a weight (the others are ops' fixed choices)
INIT_CHOICES = ("zeros", "uniform", "xavier", "he")


def initialise(
    init: str, shape: Shape, *, seed: int, node: str, name: str, fan_in: int | None = None
) -> np.ndarray:
    """Initial float64 values for one trainable parameter (``fan_in``: instead of the one
    its shape implies, e.g. a bias drawn like PyTorch's from its weights' fan-in).

    Seeded by ``(seed, node id, parameter name)``: adding or removing another node does
    not change this one's initial values.
    """
    key = [seed & 0xFFFFFFFF, zlib.crc32(node.encode()), zlib.crc32(name.encode())]
    values = INITIALISERS[init](np.random.default_rng(key), tuple(shape), fan_in)
    return np.asarray(values, np.float64)


# --------------------------------------------------------------------------- the op


@dataclass(frozen=True, eq=False)
class OpDef:
    """One block of the notation. See the module docstring for how rules are bound.

    Fields: ``name`` (stable id used in graph documents), ``label`` and ``doc`` for people,
    ``category`` (variable | function | cost), ``inputs`` (ports), ``outputs`` (names),
    ``params`` (:class:`Param`), ``trainables`` (:class:`Trainable`), ``differentiable``,
    ``forward``, ``vjp`` (port or trainable name -> rule, ``None`` = no gradient),
    ``shape`` (rule returning the per-sample output shape, or a list for several outputs),
    ``dtype`` ("float" | "int" or a rule over params), ``scratch`` (name -> shape rule:
    per-sample buffers the forward fills for the VJPs), ``formula`` (LaTeX forward and
    backward), ``samples`` (for the tests), ``source`` (``"input"`` / ``"target"``: values
    are fed; ``"static"``: forward fills the value once at compile time, and on every pass
    when the node has trainables) and ``broadcast`` (inputs broadcast against each other,
    per sample) and ``rate_param`` (the drop-rate param of a stochastic op), ``explain``
    (LaTeX templates with numbers plugged in, for the classroom: see :func:`check_explain`),
    ``torch`` and ``onnx`` (how the op exports: see :func:`check_export`), ``buffers``
    (:class:`Buffer`: non-trainable state such as running statistics).
    """

    name: str
    label: str
    category: str
    doc: str
    forward: Callable | None
    shape: Callable
    inputs: tuple = ()
    outputs: tuple = ("y",)
    params: tuple = ()
    trainables: tuple = ()
    differentiable: bool = True
    vjp: dict = field(default_factory=dict)
    dtype: str | Callable = "float"
    scratch: dict = field(default_factory=dict)
    formula: dict = field(default_factory=dict)
    samples: tuple = ()
    source: str | None = None
    broadcast: bool = False
    #: for stochastic ops (dropout): the param that the trainer's `dropout` setting overrides
    rate_param: str | None = None
    #: templates for the classroom's explain mode; see :func:`check_explain`
    explain: dict = field(default_factory=dict)
    #: export to PyTorch source: a template or a rule returning a Python expression
    torch: str | Callable | None = None
    #: export to ONNX: a rule adding nodes to a graph builder, returning the output name(s)
    onnx: Callable | None = None
    #: non-trainable state (running statistics), updated in place by a training forward
    buffers: tuple = ()
    # filled in by __post_init__: the rules with their argument names, the param names
    rules: dict = field(default_factory=dict, repr=False, init=False)
    param_names: frozenset = field(default=frozenset(), repr=False, init=False)

    def __post_init__(self):
        w = f"op {self.name!r}"
        set_ = object.__setattr__
        set_(self, "inputs", tuple(p if isinstance(p, Port) else Port(*p) for p in self.inputs))
        set_(self, "outputs", tuple(self.outputs))
        set_(self, "params", tuple(self.params))
        set_(self, "trainables", tuple(self.trainables))
        set_(self, "samples", tuple(self.samples))
        set_(self, "buffers", tuple(self.buffers))
        if self.category not in CATEGORIES:
            raise ValueError(f"{w}: category must be one of {CATEGORIES}")
        if not self.outputs:
            raise ValueError(f"{w}: needs at least one output")
        if self.category == "cost" and len(self.outputs) != 1:
            raise ValueError(f"{w}: a cost has one (scalar) output")
        if self.source not in (None, "input", "target", "static"):
            raise ValueError(f"{w}: source must be None, 'input', 'target' or 'static'")
        if set(self.formula) != {"forward", "backward"}:
            raise ValueError(f"{w}: formula needs LaTeX for 'forward' and 'backward'")
        ports = [p.name for p in self.inputs]
        pnames = [p.name for p in self.params]
        tnames = [t.name for t in self.trainables]
        snames = list(self.scratch)
        bnames = [b.name for b in self.buffers]
        names = ports + pnames + tnames + snames + bnames
        if len(set(names)) != len(names) or set(names) & set(RESERVED):
            raise ValueError(
                f"{w}: port, param, trainable, scratch and buffer names must be distinct"
            )
        for p in self.params:
            if p.type not in PARAM_TYPES:
                raise ValueError(f"{w}: param {p.name!r} has unknown type {p.type!r}")
        for p in self.inputs:
            if p.dtype not in DTYPES:
                raise ValueError(f"{w}: port {p.name!r} has unknown dtype {p.dtype!r}")
        shape_env = set(ports) | set(pnames)
        fwd_env = shape_env | set(tnames) | set(snames) | set(bnames)
        fwd_env |= {"out", "training", "rng", "batch", "ones", "float_dtype"}
        rules: dict[str, Any] = {}

        def bind(key, fn, allowed, optional=False):
            if fn is None:
                if not optional:
                    raise ValueError(f"{w}: missing {key} rule")
                return None
            if isinstance(fn, str):
                return fn
            r = Rule.of(fn, f"{w} {key}")
            unknown = [n for n in r.names if n not in allowed and n not in r.defaults]
            if unknown:
                raise ValueError(f"{w}: {key} rule asks for unknown name(s) {unknown}")
            rules[key] = r
            return r

        bind("shape", self.shape, shape_env | {"dtypes"})
        bind("dtype", self.dtype, set(pnames), optional=True)
        bind("forward", self.forward, fwd_env, optional=self.source in ("input", "target"))
        for name, fn in self.scratch.items():
            bind(f"scratch:{name}", fn, shape_env)
        for t in self.trainables:
            bind(f"trainable:{t.name}", t.shape, shape_env)
            bind(f"init:{t.name}", t.init, set(pnames))
            bind(f"when:{t.name}", t.when, set(pnames), optional=True)
            bind(f"fan_in:{t.name}", t.fan_in, shape_env, optional=True)
        for b in self.buffers:
            bind(f"buffer:{b.name}", b.shape, shape_env)
        extra = set(self.vjp) - set(ports) - set(tnames)
        if extra:
            raise ValueError(f"{w}: vjp for unknown input(s) {sorted(extra)}")
        for key, fn in self.vjp.items():
            bind(f"vjp:{key}", fn, fwd_env | {"g", "ans"}, optional=True)
        if self.differentiable:
            for p in self.inputs:
                if p.dtype != "int" and p.name not in self.vjp:
                    raise ValueError(f"{w}: differentiable op needs a vjp for input {p.name!r}")
            for t in self.trainables:
                if self.vjp.get(t.name) is None:
                    raise ValueError(f"{w}: needs a vjp for trainable {t.name!r}")
        check_export(self, bind, set(ports) | set(pnames) | set(tnames) | set(bnames))
        set_(self, "rules", rules)
        set_(self, "param_names", frozenset(pnames))
        check_explain(self)

    # -- small conveniences used by graph/executor

    def vjp_rule(self, name: str) -> Rule | None:
        """The bound VJP rule for a port or trainable, or ``None`` (no gradient flows)."""
        return self.rules.get(f"vjp:{name}") if self.differentiable else None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def multi_output(self) -> bool:
        return len(self.outputs) > 1

    def __repr__(self) -> str:
        return f"<op {self.name} ({self.category}): {self.label}>"


# --------------------------------------------------------------------------- explain templates

#: a placeholder in an explain template: ``@name`` or ``@g.y1`` (one output of several)
PLACEHOLDER = re.compile(r"@([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)")
#: an optional segment, dropped when a placeholder inside it has no value (``@[ + @b@]``)
OPTIONAL = re.compile(r"@\[(.*?)@\]", re.DOTALL)


def explain_names(op: OpDef) -> set[str]:
    """Names an explain template of ``op`` may use: its ports, params, trainables, scratch,
    ``g`` (dC/d output) and ``ans`` (the output), or ``g.<output>`` / ``ans.<output>``."""
    names = {p.name for p in op.inputs} | {p.name for p in op.params}
    names |= {t.name for t in op.trainables} | set(op.scratch) | {"g", "ans"}
    names |= {b.name for b in op.buffers}
    names |= {f"{k}.{o}" for k in ("g", "ans") for o in op.outputs}
    return names


def check_explain(op: OpDef) -> None:
    r"""Check an op's ``explain`` declaration (raises ``ValueError``).

    ``explain`` holds the right-hand sides of the op's rules as LaTeX in which ``@name``
    stands for a value, so the classroom can show each rule twice: with symbols, then with
    the numbers of one sample plugged in. Keys: ``"forward"`` (y = ...), one per VJP
    (``"x"``, ``"W"``: dC/dx = ...) and optionally ``"symbols"`` (name -> LaTeX symbol, e.g.
    ``{"y": r"\bar y"}``; by default a name is its own symbol, ``ans`` is ``z`` and
    ``g`` is dC/dz). ``@[ ... @]`` marks a segment dropped when a value inside it is absent
    (Linear's ``@[ + @b@]`` without bias).
    """
    ex = op.explain
    if not ex:
        return
    w = f"op {op.name!r}"
    allowed = {"forward", "symbols"} | set(op.vjp)
    extra = set(ex) - allowed
    if extra:
        raise ValueError(f"{w}: explain has unknown key(s) {sorted(extra)}")
    names = explain_names(op)
    symbols = ex.get("symbols", {})
    if not isinstance(symbols, dict) or set(symbols) - names:
        raise ValueError(f"{w}: explain symbols must map template names to LaTeX")
    for key, tpl in ex.items():
        if key == "symbols":
            continue
        if not isinstance(tpl, str):
            raise ValueError(f"{w}: explain[{key!r}] must be a LaTeX string")
        unknown = sorted(set(PLACEHOLDER.findall(tpl)) - names)
        if unknown:
            raise ValueError(f"{w}: explain[{key!r}] names unknown value(s) {unknown}")


# --------------------------------------------------------------------------- export rules

#: the name an export rule binds to the exporter's helper, per target
EXPORT_CONTEXT = {"torch": "pt", "onnx": "ox"}


def check_export(op: OpDef, bind: Callable, names: set[str]) -> None:
    """Check and bind an op's export rules (raises ``ValueError``); used by ``OpDef``.

    Export rules are bound by name like the other rules, but to *symbolic* values: each input
    port, trainable and buffer binds to the expression (PyTorch: Python source such as ``"h1"`` or
    ``"self.l1_W"``; ONNX: a value name) of its value, an absent optional trainable to
    ``None``, and each param to its value. ``pt`` / ``ox`` bind to the exporter's helper
    (shapes, the batch size, constants, reductions; see :mod:`blockprop.export`). Inputs of
    ``broadcast`` ops arrive already aligned, as in the executor.

    - ``torch``: a rule returning a Python expression (a tuple of them for several outputs),
      or a ``str.format`` template over ports, params and trainables: ``"torch.relu({x})"``.
      Values have the batch axis first, like the engine's.
    - ``onnx``: a rule that adds nodes with ``ox.op("Relu", x)`` and returns the output's
      value name (a tuple for several outputs).
    """
    w = f"op {op.name!r}"
    if isinstance(op.torch, str):
        parsed = string.Formatter().parse(op.torch)
        fields = {f.split(".")[0].split("[")[0] for _, f, _, _ in parsed if f is not None}
        unknown = sorted(fields - names)
        if unknown:
            raise ValueError(f"{w}: torch template names unknown value(s) {unknown}")
    elif op.torch is not None:
        bind("torch", op.torch, names | {EXPORT_CONTEXT["torch"]})
    if op.onnx is not None:
        bind("onnx", op.onnx, names | {EXPORT_CONTEXT["onnx"]})


# --------------------------------------------------------------------------- the registry


class Registry:
    """A name -> :class:`OpDef` table. Registering a name twice raises ``ValueError``."""

    def __init__(self):
        self._ops: dict[str, OpDef] = {}

    def register(self, op: OpDef) -> OpDef:
        if not isinstance(op, OpDef):
            raise TypeError(f"expected an OpDef, got {type(op).__name__}")
        if op.name in self._ops:
            raise ValueError(f"op {op.name!r} is already registered")
        self._ops[op.name] = op
        return op

    def get(self, name: str) -> OpDef:
        try:
            return self._ops[name]
        except (KeyError, TypeError):
            from .graph import Issue, UnknownOpError

            issue = Issue("unknown_op", f"there is no op called {name!r}", [], None)
            raise UnknownOpError([issue]) from None

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._ops

    def __len__(self) -> int:
        return len(self._ops)

    def all_ops(self) -> list[OpDef]:
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return sorted(self._ops.values(), key=lambda o: (order[o.category], o.name))


#: how the notes draw a block: data fed per sample (shaded circle), a trainable variable (a
#: parameter node), a fixed value (a constant: never fed nor trained, not to be taken for
#: data), a function block, a cost
NOTATIONS = ("observed", "trainable", "fixed", "function", "cost")


def notation_of(op: OpDef) -> str:
    """The drawing of ``op``, from its declaration (never from its name)."""
    if op.source in ("input", "target"):
        return "observed"
    if op.source == "static":
        return "trainable" if op.trainables else "fixed"
    return "function" if op.category == "variable" else op.category


def op_spec(op: OpDef | str) -> dict:
    """The JSON-able description of an op served by ``GET /api/ops`` (DESIGN.md "Op spec").

    Each param entry also says whether it is ``required`` (then ``default`` is null); each
    input its ``dtype`` (``float``, ``int`` labels or ``any``); ``source`` says which side of a
    dataset feeds a variable (``input`` x, ``target`` y). Editors use these two for their
    smart defaults (a Target wired into a port that takes labels becomes class labels).
    ``buffers`` lists an op's non-trainable state (running statistics) like ``parameters``
    lists its trainables, with the value each starts from (``fill``).
    """
    if isinstance(op, str):
        op = get(op)
    return {
        "name": op.name,
        "label": op.label,
        "category": op.category,
        "doc": op.doc,
        "source": op.source if op.source in ("input", "target") else None,
        "inputs": [
            {"name": p.name, "doc": p.doc, "dtype": p.dtype, "label": p.label or p.name}
            for p in op.inputs
        ],
        "outputs": [{"name": n} for n in op.outputs],
        "params": [p.spec() for p in op.params],
        "parameters": [{"name": t.name, "shape_rule": t.shape_rule} for t in op.trainables],
        "buffers": [
            {"name": b.name, "shape_rule": b.shape_rule, "fill": b.fill, "doc": b.doc}
            for b in op.buffers
        ],
        "differentiable": op.differentiable,
        "notation": notation_of(op),
        "formula": {"forward": op.formula["forward"], "backward": op.formula["backward"]},
        "explain": {
            "forward": op.explain.get("forward"),
            "vjp": {k: v for k, v in op.explain.items() if k not in ("forward", "symbols")},
            "symbols": dict(op.explain.get("symbols", {})),
        },
    }


REGISTRY = Registry()
_loaded = False
_loading = False
# Threads of a fresh server may ask for ops at once: the first loads the families under the
# lock and only then marks the registry loaded, so no caller sees it half-filled (a false
# unknown_op). Re-entrant: a family module being imported may itself call `register`.
_load_lock = threading.RLock()


def _ensure_loaded() -> Registry:
    if _loaded:
        return REGISTRY
    with _load_lock:
        if not _loaded and not _loading:
            _import_families()
    return REGISTRY


def _import_families() -> None:
    global _loaded, _loading
    _loading = True  # a family calling `register` while imported must not import again
    try:
        from . import ops  # noqa: F401  (registers every family module)
    finally:
        _loading = False
    _loaded = True


def register(op: OpDef) -> OpDef:
    """Add an op to the default registry (raises ``ValueError`` if the name is taken)."""
    _ensure_loaded()
    return REGISTRY.register(op)


def get(name: str) -> OpDef:
    """The op called ``name``; raises :class:`~blockprop.engine.graph.GraphError` (unknown_op)."""
    return _ensure_loaded().get(name)


def all_ops() -> list[OpDef]:
    """Every registered op, sorted by category (variable, function, cost) then name."""
    return _ensure_loaded().all_ops()


def names() -> list[str]:
    return [o.name for o in all_ops()]
