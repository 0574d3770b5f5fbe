"""Text from a graph is data in every export, never code (issue 12's blocker and its siblings).

A graph's name, description, node ids, op params and ui fields reach the PyTorch source only
as string literals, sanitised identifiers and one-line comments; the ONNX model only as plain
text; a download's file name only as a safe stem. The PyTorch checks run without torch: the
generated module is executed against a tiny fake ``torch`` (in a sandbox in this process, and
by a real ``import`` in a subprocess).
"""

from __future__ import annotations

import ast
import builtins
import email
import email.utils
import io
import json
import re
import subprocess
import sys
import tokenize
import types
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockprop.cli import main as cli_main
from blockprop.engine import GraphError, registry
from blockprop.engine.registry import OpDef, Param, Sample
from blockprop.export import NODE_ID, ExportError, content_disposition, file_stem, plain_text
from blockprop.export.onnx import to_onnx
from blockprop.export.pytorch import check_expression, class_name, to_pytorch

from .helpers import OP_SAMPLES, doc, node, op_graph

PAYLOAD = "__import__('os').system('touch PWNED'); open('PWNED2', 'w').write('x')"
#: hostile text: every way out of a string, a docstring, a comment or a line
ATTACKS = [
    'x"""; __import__("os").system("touch PWNED"); """',
    "x'''; __import__('os').system('touch PWNED'); '''",
    f'x"""\n{PAYLOAD}\n"""',
    f"x'''\n{PAYLOAD}\n'''",
    f"x\n{PAYLOAD}\n",
    f"x\r{PAYLOAD}\r",
    f"x\r\n{PAYLOAD}",
    f"x\u2028{PAYLOAD}",
    f"x\u2029{PAYLOAD}",
    f"x\x0c{PAYLOAD}",
    f"x\x0b{PAYLOAD}",
    f"x\x1c\x1d\x1e\x85{PAYLOAD}",
    "backslash at the end\\",
    '\\"""; ' + PAYLOAD + "; #",
    "# -*- coding: utf-7 -*-\n+AAo-" + PAYLOAD,  # a coding declaration, if it were line 1
    f"\x00nul\x7f{PAYLOAD}",
    f"\u202ebidi override\u2066{PAYLOAD}",
    "{x}{0}{__class__}%s%(x)s",  # format strings
    'a"; filename="../../etc/passwd',
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\system32",
    "Spiralen für Kinder; \"quoted\" 'single' ✓",
    "",
]
ATTACK_IDS = [f"attack{i}" for i in range(len(ATTACKS))]
#: valid node ids that are Python keywords, builtins or names the generated code uses
TRICKY_IDS = [
    "self", "class", "__init__", "__class__", "__dict__", "_", "__", "__x", "batch", "loss",
    "values", "inputs", "torch", "F", "nn", "STATE", "dtype", "state", "super", "print",
    "exec", "__import__", "GRAPH_NAME", "PARAMETERS", "INPUTS", "training", "forward",
    "type", "match", "case", "None", "True", "0", "-", "--", "1x", "a-b", "x" * 64,
]  # fmt: skip


def small_graph(name: str, ids: list[str], description: str = "", ui: str = "") -> dict:
    """input -> linear (+ a constant) -> squared_error against a target, with ids ``ids``."""
    a, b, k, e, t, c = ids
    nodes = [
        node(a, "input", shape=[2]),
        node(b, "linear", {"x": a}, out_features=1),
        node(k, "constant", value=[0.5]),
        node(e, "add", {"a": b, "b": k}),
        node(t, "target", shape=[1]),
        node(c, "squared_error", {"y": e, "target": t}),
    ]
    for n in nodes:
        n["ui"] = {"label": ui, "note": ui}
    return {**doc(*nodes), "name": name, "description": description}


# --------------------------------------------------------------------------- a fake torch

FAKE_TORCH = {
    "torch/__init__.py": (
        "float32 = 'float32'\nfloat64 = 'float64'\n\n\n"
        "def tensor(data, dtype=None):\n    return data\n\n\nfrom torch import nn  # noqa\n"
    ),
    "torch/nn/__init__.py": (
        "class Module:\n    def __init__(self):\n        pass\n\n"
        "    def register_buffer(self, name, value):\n        setattr(self, name, value)\n\n\n"
        "def Parameter(data):\n    return data\n\n\nfrom torch.nn import functional  # noqa\n"
    ),
    "torch/nn/functional.py": "",
}


def fake_torch_modules() -> dict[str, types.ModuleType]:
    """The fake torch as modules, for the in-process sandbox."""
    mods = {n: types.ModuleType(n) for n in ("torch", "torch.nn", "torch.nn.functional")}
    ns = {"__builtins__": builtins, "__name__": "torch.nn"}
    exec(FAKE_TORCH["torch/nn/__init__.py"].split("\n\n\nfrom")[0], ns)
    mods["torch.nn"].Module, mods["torch.nn"].Parameter = ns["Module"], ns["Parameter"]
    mods["torch.nn"].functional = mods["torch.nn.functional"]
    mods["torch"].nn = mods["torch.nn"]
    mods["torch"].float32, mods["torch"].float64 = "float32", "float64"
    mods["torch"].tensor = lambda data, dtype=None: data
    return mods


def sandbox_exec(source: str) -> dict:
    """Run the module's top level with only the builtins a class definition needs and an
    ``__import__`` that knows torch alone: a payload that imports, opens or evals fails."""
    mods = fake_torch_modules()

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name not in mods or level:
            raise ImportError(f"the exported module imported {name!r}")
        return mods[name] if fromlist else mods[name.partition(".")[0]]

    safe = {"__build_class__": builtins.__build_class__, "__import__": guarded_import}
    safe |= {n: getattr(builtins, n) for n in ("super", "getattr", "dict", "list", "tuple")}
    ns = {"__builtins__": safe, "__name__": "model"}
    exec(compile(source, "model.py", "exec"), ns)
    return ns


# --------------------------------------------------------------------------- the source's shape

#: names the exporter's own method bodies use, besides their locals and arguments
METHOD_GLOBALS = {"torch", "F", "nn", "STATE", "super", "getattr"}


def _names_assigned(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    names |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
    return names


def _check_method(fn: ast.FunctionDef) -> None:
    assert fn.name in ("__init__", "forward", "graph_state"), fn.name
    local = _names_assigned(fn)
    for n in ast.walk(fn):
        if isinstance(n, ast.Name):
            assert n.id in local | METHOD_GLOBALS, f"{fn.name} uses the name {n.id!r}"
        if isinstance(n, ast.Attribute):
            assert not n.attr.startswith("_") or n.attr == "__init__", n.attr
        assert not isinstance(n, (ast.Lambda, ast.NamedExpr, ast.JoinedStr, ast.Import)), n


def _docstring(stmt: ast.stmt) -> str:
    assert isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
    assert isinstance(stmt.value.value, str)
    return stmt.value.value


def assert_data_only(source: str) -> ast.ClassDef:
    """The module is imports, one class and literal assignments; the class is a docstring,
    literal assignments and the exporter's three methods; the docstrings hold only the
    exporter's own (ASCII) text; no exotic line break, surrogate or coding declaration."""
    source.encode("utf-8")  # no lone surrogate
    assert "\r" not in source and source.endswith("\n")
    assert source.splitlines() == source.split("\n")[:-1], "a line break besides \\n"
    for line in source.split("\n")[:2]:
        assert not re.match(r"^[ \t\f]*#.*?coding[:=]", line)
    tree = ast.parse(source)
    assert _docstring(tree.body[0]).isascii()
    classes = []
    for stmt in tree.body[1:]:
        if isinstance(stmt, ast.Import):
            assert [a.name for a in stmt.names] in (["torch"], ["torch.nn.functional"])
        elif isinstance(stmt, ast.ImportFrom):
            assert stmt.module == "torch" and [a.name for a in stmt.names] == ["nn"]
        elif isinstance(stmt, ast.Assign):
            assert [type(t) for t in stmt.targets] == [ast.Name]
            ast.literal_eval(stmt.value)  # plain data: no call, no name
        else:
            assert isinstance(stmt, ast.ClassDef), ast.dump(stmt)[:200]
            classes.append(stmt)
    assert len(classes) == 1
    cls = classes[0]
    assert [ast.unparse(b) for b in cls.bases] == ["nn.Module"] and not cls.decorator_list
    assert _docstring(cls.body[0]).isascii()
    for stmt in cls.body[1:]:
        if isinstance(stmt, ast.Assign):
            ast.literal_eval(stmt.value)
        else:
            assert isinstance(stmt, ast.FunctionDef), ast.dump(stmt)[:200]
            assert not stmt.decorator_list
            _check_method(stmt)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            assert tok.string.isprintable(), tok.string
    return cls


def class_attrs(cls: ast.ClassDef) -> dict:
    return {
        s.targets[0].id: ast.literal_eval(s.value) for s in cls.body if isinstance(s, ast.Assign)
    }


def hostile_text(with_surrogates: bool = True):
    breaks = ["\n", "\r", "\u2028", "\u2029", "\x0c", "\x0b", "\x85", "\x1c", "\x00"]
    specials = st.sampled_from(['"""', "'''", "\\", "#", "{", "}", PAYLOAD, *breaks])
    chars = st.characters(exclude_categories=() if with_surrogates else ("Cs",))
    return st.lists(st.one_of(chars, specials), max_size=12).map("".join)


ids_strategy = st.lists(
    st.one_of(st.sampled_from(TRICKY_IDS), st.from_regex(NODE_ID, fullmatch=True)),
    min_size=6,
    max_size=6,
    unique=True,
)


# --------------------------------------------------------------------------- 1. property


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=hostile_text(), description=hostile_text(), ui=hostile_text(), ids=ids_strategy)
def test_any_name_description_and_ids_stay_data(name, description, ui, ids):
    source = to_pytorch(small_graph(name, ids, description, ui))
    cls = assert_data_only(source)
    attrs = class_attrs(cls)
    assert attrs["GRAPH_NAME"] == name.strip()
    assert list(attrs["INPUTS"]) == [ids[0], ids[4]]
    assert {nid for nid, _ in attrs["PARAMETERS"].values()} == {ids[1]}
    assert cls.name == class_name(name) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cls.name)
    ns = sandbox_exec(source)
    model = ns[cls.name]()
    assert name.strip() == ns[cls.name].GRAPH_NAME
    assert set(ns["STATE"]) == {ids[1]}
    assert all(hasattr(model, attr) for attr in ns[cls.name].PARAMETERS)


@settings(max_examples=60, deadline=None)
@given(bad=st.text(min_size=1).filter(lambda s: not NODE_ID.fullmatch(s)))
def test_an_id_the_exporter_cannot_write_is_refused(bad):
    ids = [bad, "b", "k", "e", "t", "c"]
    for to in (to_pytorch, to_onnx):
        with pytest.raises(GraphError) as e:
            to(small_graph("g", ids))
        assert e.value.code == "bad_id"


@pytest.mark.parametrize("bad", ["x\n", "x\r", "x\u2028", 'x"', "x y", "é", "x" * 65])
def test_prepare_checks_ids_itself(monkeypatch, bad):
    """Even when the engine's id rule lets an id through, the exporters refuse it."""
    from blockprop.engine import graph

    monkeypatch.setattr(graph, "ID_RE", re.compile(r".+", re.S))
    with pytest.raises(GraphError) as e:
        to_pytorch(small_graph("g", [bad, "b", "k", "e", "t", "c"]))
    assert e.value.code == "bad_id"


# --------------------------------------------------------------------------- 2. the attacks


def write_package(folder: Path) -> None:
    for rel, text in FAKE_TORCH.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def import_in_subprocess(folder: Path, sources: list[str]) -> list:
    """Write each source as model_<i>.py beside a fake torch, import them all in a fresh
    interpreter (cwd ``folder``, no bytecode written) and return each class's GRAPH_NAME."""
    write_package(folder)
    for i, src in enumerate(sources):
        (folder / f"model_{i}.py").write_text(src, encoding="utf-8")
    driver = (
        "import importlib, json, sys\n"
        "out = []\n"
        f"for i in range({len(sources)}):\n"
        "    m = importlib.import_module(f'model_{i}')\n"
        "    cls = [v for v in vars(m).values()\n"
        "           if isinstance(v, type) and v.__module__ == m.__name__]\n"
        "    assert len(cls) == 1, cls\n"
        "    cls[0]()\n"
        "    out.append(cls[0].GRAPH_NAME)\n"
        "print(json.dumps(out))\n"
    )
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    r = subprocess.run(
        [sys.executable, "-B", "-c", driver],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before  # no new file
    return json.loads(r.stdout)


def test_attack_strings_as_name_description_and_ui_run_nothing(tmp_path):
    ids = ["x", "lin", "k", "e", "y", "cost"]
    sources = [to_pytorch(small_graph(a, ids, description=a, ui=a)) for a in ATTACKS]
    for src in sources:
        assert_data_only(src)
        names = {
            tok.string
            for tok in tokenize.generate_tokens(io.StringIO(src).readline)
            if tok.type == tokenize.NAME
        }  # the payload is only ever inside a string literal or a comment
        assert not names & {"__import__", "os", "system", "open", "PWNED", "PWNED2"}
    assert import_in_subprocess(tmp_path, sources) == [a.strip() for a in ATTACKS]
    assert not list(tmp_path.glob("PWNED*"))


@pytest.mark.parametrize("attack", ATTACKS, ids=ATTACK_IDS)
def test_attack_strings_as_node_ids_are_refused(attack):
    with pytest.raises(GraphError) as e:
        to_pytorch(small_graph("g", [attack or "?", "b", "k", "e", "t", "c"]))
    assert e.value.code == "bad_id"


STR_PARAMS = [
    (op, i, s, p.name) for op, i, s in OP_SAMPLES for p in op.params if p.type == "str" and i == 0
]


@pytest.mark.parametrize(
    "case", STR_PARAMS, ids=[f"{op.name}-{name}" for op, _, _, name in STR_PARAMS]
)
def test_every_string_param_refuses_or_quotes_an_attack(case, tmp_path):
    op, _, sample, pname = case
    d, _ = op_graph(op, sample, 2)
    sources = []
    for attack in ATTACKS[:6]:
        for n in d["nodes"]:
            if n["id"] == "op":
                n["params"][pname] = attack
        try:
            sources.append(to_pytorch(d))
        except GraphError as e:  # the param has choices: the attack is not one
            assert e.code == "bad_param" and e.issues[0].nodes == ["op"]
    for src in sources:
        assert_data_only(src)
    if sources:
        import_in_subprocess(tmp_path, sources)
        assert not list(tmp_path.glob("PWNED*"))


def _temp_op(name: str, torch_rule) -> OpDef:
    return OpDef(
        name=name,
        label="Test",
        category="function",
        doc="a test op with a free-text param",
        inputs=[("x", "in")],
        params=[Param("label", "str", "bi->bi", doc="free text")],
        shape=lambda x: x,
        forward=lambda x, label, out: np.copyto(out, x) if out is not None else x.copy(),
        vjp={"x": lambda g: g},
        formula={"forward": "y = x", "backward": "g"},
        torch=torch_rule,
        samples=[Sample({"x": (2,)})],
    )


@pytest.fixture
def text_param_ops():
    """Two temporary ops with a free str param: a template (the exporter quotes the param)
    and a careless rule that pastes it into code (the exporter refuses the line)."""
    ops = [
        _temp_op("test_template", "torch.einsum({label}, {x})"),
        _temp_op("test_paste", lambda x, label: f"{x} * {label}"),
    ]
    for op in ops:
        registry.register(op)
    yield ops
    for op in ops:
        del registry.REGISTRY._ops[op.name]


@pytest.mark.parametrize("attack", ATTACKS[:6] + [PAYLOAD, "x.__class__", "(lambda: 0)()"])
def test_a_free_text_param_is_quoted_or_refused(text_param_ops, attack, tmp_path):
    def graph(op):
        return doc(node("x", "input", shape=[2]), node("o", op, {"x": "x"}, label=attack))

    src = to_pytorch(graph("test_template"))
    assert_data_only(src)
    line = next(s for s in src.splitlines() if s.strip().startswith("o = "))
    call = ast.parse(line.strip()).body[0].value
    assert ast.literal_eval(call.args[0]) == attack  # the param is one string literal
    import_in_subprocess(tmp_path, [src])
    with pytest.raises(ExportError) as e:
        to_pytorch(graph("test_paste"))
    assert e.value.code == "not_exportable" and e.value.issues[0].nodes == ["o"]


def test_a_careless_rule_with_a_plain_value_still_exports(text_param_ops):
    d = doc(node("x", "input", shape=[2]), node("o", "test_paste", {"x": "x"}, label="2.5"))
    assert "o = x * 2.5  # o (test_paste) [batch, 2]" in to_pytorch(d)


@pytest.mark.parametrize(
    "expr, ok",
    [
        ("F.linear(x, self.l_W, self.l_b)", True),
        ('torch.einsum("bi->bi", x)[:, None, ...]', True),
        ("x.sum((1, 2)) ** 2 - -1", True),
        ("__import__('os').system('id')", False),
        ("x.__class__", False),
        ("eval('1')", False),
        ("(lambda: 0)()", False),
        ("[i for i in x]", False),
        ("f'{x}'", False),
        ("(y := x)", False),
        ("F.linear(**x)", False),
        ("x; import os", False),
        ("x\nimport os", False),
    ],
)
def test_check_expression(expr, ok):
    assert (check_expression(expr, {"x"}) is None) == ok


torch_needed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None,
    reason="torch is not installed: running a hostile-named module in torch is skipped",
)


@torch_needed
def test_a_hostile_module_still_computes_what_the_engine_computes():
    from .helpers import random_feeds
    from .test_pytorch import compare

    ids = ["print", "__x", "class", "batch", "loss", "self"]
    d = small_graph(ATTACKS[0], ids, description=ATTACKS[2])
    compare(d, random_feeds(d, 3))


@torch_needed
def test_a_fed_node_called_self_is_fed_by_a_dict():
    """nn.Module.__call__ has a `self` argument: such a module's forward takes a dict."""
    import torch

    from .helpers import engine_run, random_feeds
    from .test_pytorch import load

    d = small_graph("g", ["self", "l", "k", "e", "y", "c"])
    src = to_pytorch(d)
    assert '    def forward(self, inputs, /):  # a dict: a fed node is called "self"' in src
    feeds = random_feeds(d, 3)
    loss, values = load(src)(dtype=torch.float64)({k: torch.tensor(v) for k, v in feeds.items()})
    plan = engine_run(d, feeds, backward=False)
    assert loss.item() == pytest.approx(plan.loss, rel=1e-9)
    np.testing.assert_allclose(values["e"].detach().numpy(), plan.values["e"], rtol=1e-9)


# --------------------------------------------------------------------------- 3. downloads

SAFE_DISPOSITION = re.compile(
    r"attachment; filename=\"[A-Za-z0-9_]{1,64}\.(py|onnx)\""
    r"(; filename\*=UTF-8''[A-Za-z0-9%_.~-]+)?"
)


def parsed_filename(header: str) -> str:
    """The file name a client takes from the header: ``filename*`` when there is one."""
    msg = email.message_from_string(f"Content-Disposition: {header}\n\n")
    kind, *params = msg.get_params(header="content-disposition")
    assert kind == ("attachment", "") and {k for k, _ in params} == {"filename"}
    star = [v for _, v in params if isinstance(v, tuple)]
    plain = [v for _, v in params if isinstance(v, str)]
    assert len(plain) == 1 and len(star) <= 1, params
    return email.utils.collapse_rfc2231_value(star[0]) if star else plain[0]


def assert_safe_disposition(header: str, suffix: str) -> str:
    assert SAFE_DISPOSITION.fullmatch(header), header
    name = parsed_filename(header)
    assert name.endswith(suffix) and name.isprintable() and not name.startswith(".")
    assert not set(name) & set("/\\\"';:\0") and ".." not in name
    return name


@pytest.mark.parametrize("attack", ATTACKS, ids=ATTACK_IDS)
def test_content_disposition_is_a_safe_file_name(attack):
    for suffix in (".py", ".onnx"):
        assert_safe_disposition(content_disposition(attack, suffix), suffix)
    assert parsed_filename(content_disposition("Spiralen für Kinder", ".py")) == (
        "spiralen_für_kinder.py"
    )
    assert file_stem("../../etc/passwd") == "etc_passwd" and file_stem("CON") == "model"


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


API_NAMES = [
    'a"b',
    "a\r\nContent-Type: text/html\r\n\r\n<script>",
    "a;b=c; filename=evil.sh",
    "Spiralen für Kinder ✓",
    "../../etc/passwd",
    "..",
    '"',
    "\u2028\x85",
]


@pytest.mark.parametrize("name", API_NAMES)
def test_download_names_from_the_api_are_safe(http, name):
    d = small_graph(name, ["x", "lin", "k", "e", "y", "cost"])
    for to, suffix in (("pytorch", ".py"), ("onnx", ".onnx")):
        r = http.post(f"/api/export/{to}", json={"graph": d})
        assert r.status_code == 200, r.text
        [header] = r.headers.get_list("content-disposition")
        assert_safe_disposition(header, suffix)
        assert header == content_disposition(name, suffix)


def test_cli_default_output_stays_in_the_working_directory(tmp_path, monkeypatch, capsys):
    src, work = tmp_path / "in", tmp_path / "work"
    src.mkdir()
    work.mkdir()
    graph = src / "..json"  # stem "." : the name comes from the graph's name
    graph.write_text(json.dumps(small_graph("../../etc/passwd", ["x", "l", "k", "e", "y", "c"])))
    monkeypatch.chdir(work)
    assert cli_main(["export", str(graph), "--to", "onnx"]) == 0
    assert "wrote etc_passwd.onnx" in capsys.readouterr().err
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert made == ["in", "in/..json", "work", "work/etc_passwd.onnx"]


# --------------------------------------------------------------------------- 4. ONNX


def string_fields(message, path="model"):
    """Every string (and bytes) value in a protobuf message, with where it is."""
    for field, value in message.ListFields():
        repeated = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
        values = value if repeated else [value]
        for i, v in enumerate(values):
            where = f"{path}.{field.name}[{i}]"
            if field.type == field.TYPE_MESSAGE:
                yield from string_fields(v, where)
            elif field.type == field.TYPE_STRING:
                yield where, v


@pytest.mark.parametrize("attack", ATTACKS + ["\ud800lone\udfff"], ids=ATTACK_IDS + ["surrogate"])
def test_onnx_strings_are_plain_text(attack):
    ids = ["batch", "loss", "x", "e", "y", "cost"]  # "batch" and "loss": names ONNX uses too
    d = small_graph(attack, ids, description=attack, ui=attack)
    for targets in (True, False):
        model = to_onnx(d, targets=targets)
        again = onnx.load_from_string(model.SerializeToString())
        onnx.checker.check_model(again, full_check=True)
        for where, text in string_fields(again):
            assert text.isprintable(), (where, text)
        props = {p.key: p.value for p in again.metadata_props}
        assert props["graph"] == (plain_text(attack) or "Blockprop graph")
        assert again.graph.name == props["graph"]
