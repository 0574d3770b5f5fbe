"""`blockprop export GRAPH --to pytorch|onnx`: outputs, trained state, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from blockprop.cli import main
from blockprop.engine import compile_graph, registry
from blockprop.engine.data import load_dataset
from blockprop.engine.registry import OpDef, Sample
from blockprop.engine.trainer import TrainConfig, Trainer
from blockprop.examples import get_example

XOR = get_example("xor")["graph"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def graph_file(tmp_path):
    def write(doc, name="graph.json"):
        p = tmp_path / name
        p.write_text(json.dumps(doc))
        return str(p)

    return write


def onnx_params(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}


def test_pytorch_to_stdout(capsys):
    code, out, err = run(capsys, "export", "spiral", "--to", "pytorch")
    assert code == 0 and err == ""
    assert "class TwoSpiralClassifier(nn.Module):" in out
    compile(out, "spiral.py", "exec")
    _, out7, _ = run(capsys, "export", "spiral", "--to", "pytorch", "--seed", "7")
    assert out7 != out and "seed 7" in out7


def test_pytorch_to_a_file(capsys, tmp_path, graph_file):
    target = tmp_path / "model.py"
    code, out, err = run(capsys, "export", graph_file(XOR), "--to", "pytorch", "-o", str(target))
    assert code == 0 and out == "" and f"wrote {target}" in err
    assert "class XORWithOneHiddenLayer(nn.Module):" in target.read_text()


def test_onnx_defaults_to_the_graphs_stem(capsys, tmp_path, monkeypatch):
    (tmp_path / "graphs").mkdir()
    (tmp_path / "work").mkdir()
    path = tmp_path / "graphs" / "xor_net.json"
    path.write_text(json.dumps(XOR))
    monkeypatch.chdir(tmp_path / "work")  # written to the working directory, like a compiler
    code, out, err = run(capsys, "export", str(path), "--to", "onnx")
    assert code == 0 and out == "" and "wrote xor_net.onnx (" in err
    model = onnx.load(tmp_path / "work" / "xor_net.onnx")
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output][-1] == "loss"
    assert run(capsys, "export", "iris", "--to", "onnx")[0] == 0  # an example id: ./iris.onnx
    assert (tmp_path / "work" / "iris.onnx").exists()


def test_onnx_to_stdout_and_without_targets(capsysbinary):
    code = main(["export", "iris", "--to", "onnx", "-o", "-", "--no-targets"])
    out, _ = capsysbinary.readouterr()
    assert code == 0
    model = onnx.load_from_string(out)
    assert [i.name for i in model.graph.input] == ["x"]
    assert "loss" not in [o.name for o in model.graph.output]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A few training steps of the XOR example, saved like `blockprop train --out` does."""
    folder = tmp_path_factory.mktemp("trained")
    example = get_example("xor")
    dataset = load_dataset("xor", n=64, noise=0.1)
    trainer = Trainer(XOR, dataset, TrainConfig.from_dict({"epochs": 5, "lr": 0.5, "seed": 3}))
    trainer.run()
    state = trainer.state()
    (folder / "checkpoint.npz").write_bytes(trainer.save_checkpoint())
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "graph.json").write_text(json.dumps({**example["graph"], "state": state}))
    return folder, state


@pytest.mark.parametrize("name", ["checkpoint.npz", "state.json", "graph.json"])
def test_state_from_a_training_run(capsys, tmp_path, trained, name):
    folder, state = trained
    initial = compile_graph(XOR, 1, dtype=np.float64).params
    out = tmp_path / "m.onnx"
    code, _, err = run(capsys, "export", "xor", "--to", "onnx", "--state", str(folder / name),
                       "-o", str(out))  # fmt: skip
    assert code == 0, err
    params = onnx_params(onnx.load(out))
    for nid, ps in state.items():
        for k, v in ps.items():
            np.testing.assert_allclose(params[f"{nid}.{k}"], v, rtol=1e-6)
            assert not np.allclose(v, initial[nid][k])  # trained, not the initial values
    code, src, _ = run(capsys, "export", "xor", "--to", "pytorch", "--state", str(folder / name))
    assert code == 0 and "parameters start from the graph's trained state" in src
    ns: dict = {}
    exec(compile(src[src.index("\nSTATE = {") :], "<state>", "exec"), ns)
    for nid, ps in state.items():
        for k, v in ps.items():
            np.testing.assert_allclose(ns["STATE"][nid][k], v, rtol=1e-6)


def test_a_graph_file_with_state_is_used(capsys, trained):
    folder, state = trained
    code, src, _ = run(capsys, "export", str(folder / "graph.json"), "--to", "pytorch")
    assert code == 0 and json.dumps(state["hidden"]["b"][0]) in src


def test_invalid_graphs_exit_1(capsys, graph_file):
    bad = json.loads(json.dumps(XOR))
    bad["nodes"][2]["inputs"] = {"x": "score"}  # hidden <- h <- score <- hidden: a cycle
    for to in ("pytorch", "onnx"):
        code, out, err = run(capsys, "export", graph_file(bad), "--to", to)
        assert code == 1 and out == "" and "error cycle:" in err and "hidden" in err
    bad_state = {**XOR, "state": {"hidden": {"W": [[1.0]]}}}
    code, _, err = run(capsys, "export", graph_file(bad_state), "--to", "pytorch")
    assert code == 1 and "error bad_state:" in err


@pytest.fixture
def unexportable():
    op = OpDef(
        name="test_cli_noexport",
        label="No export",
        category="function",
        doc="a test op without export rules",
        inputs=[("x", "in")],
        shape=lambda x: x,
        forward=lambda x, out: x,
        vjp={"x": lambda g: g},
        formula={"forward": "y = x", "backward": "g"},
        samples=[Sample({"x": (2,)})],
    )
    registry.register(op)
    yield op
    del registry.REGISTRY._ops[op.name]


def test_not_exportable_exits_1_naming_the_node(capsys, graph_file, unexportable):
    d = {
        "version": 1,
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [2]}},
            {"id": "odd", "op": unexportable.name, "inputs": {"x": "x"}},
        ],
    }
    code, out, err = run(capsys, "export", graph_file(d), "--to", "onnx")
    assert code == 1 and "error not_exportable:" in err and "[nodes: odd]" in err


def test_usage_errors_exit_2(capsys, tmp_path, graph_file):
    code, _, err = run(capsys, "export", "nope.json", "--to", "pytorch")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "export", "xor", "--to", "pytorch", "--state", "missing.npz")
    assert code == 2 and "--state missing.npz: cannot read it" in err
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    code, _, err = run(capsys, "export", "xor", "--to", "pytorch", "--state", str(junk))
    assert code == 2 and "--state" in err
    code, _, err = run(capsys, "export", "xor", "--to", "onnx", "-o", str(tmp_path / "no/dir.onnx"))
    assert code == 2 and "cannot write" in err
    with pytest.raises(SystemExit) as e:
        main(["export", "xor", "--to", "tensorflow"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["export", "xor"])  # --to is required
    assert e.value.code == 2


def test_the_command_runs(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "blockprop.cli", "export", "residual", "--to", "pytorch"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "dup_y1, dup_y2 = h.clone(), h.clone()  # dup (duplicate)" in r.stdout


def test_running_statistics_come_from_a_checkpoint(capsys, tmp_path):
    """Batch norm's running statistics are trained state too: a checkpoint carries them into
    the exported model."""
    graph = get_example("batch_norm_mlp")["graph"]
    trainer = Trainer(graph, load_dataset("digits", n=200, normalize=False), {"epochs": 1})
    trainer.run()
    (tmp_path / "checkpoint.npz").write_bytes(trainer.save_checkpoint())
    out = tmp_path / "m.onnx"
    code, _, err = run(capsys, "export", "batch_norm_mlp", "--to", "onnx", "--state",
                       str(tmp_path / "checkpoint.npz"), "-o", str(out))  # fmt: skip
    assert code == 0, err
    params = onnx_params(onnx.load(out))
    for name in ("running_mean", "running_var"):
        want = trainer.plan.buffers["bn"][name]
        assert not np.allclose(want, 0.0 if name == "running_mean" else 1.0)  # moved
        np.testing.assert_allclose(params[f"bn.{name}"], want, rtol=1e-6)


def test_a_checkpoint_of_a_graph_with_modules(capsys, tmp_path, graph_file):
    """Inner nodes' state is keyed by flat id (``b1/l``): a checkpoint's ``param/b1/l/W``
    names node ``b1/l``, parameter ``W``."""
    block = {
        "inputs": ["x"],
        "outputs": {"y": "t"},
        "nodes": [
            {"id": "l", "op": "linear", "params": {"out_features": 4}, "inputs": {"x": "x"}},
            {"id": "bn", "op": "batch_norm", "inputs": {"x": "l"}},
            {"id": "t", "op": "tanh", "inputs": {"x": "bn"}},
        ],
    }
    graph = {
        "version": 1,
        "modules": {"block": block},
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [4]}},
            {"id": "b1", "op": "module", "params": {"module": "block"}, "inputs": {"x": "x"}},
            {"id": "o", "op": "linear", "params": {"out_features": 3}, "inputs": {"x": "b1"}},
            {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
            {"id": "c", "op": "cross_entropy", "inputs": {"logits": "o", "target": "y"}},
        ],
    }
    trainer = Trainer(graph, load_dataset("iris", seed=0), {"epochs": 1, "batch_size": 16})
    trainer.run()
    (tmp_path / "checkpoint.npz").write_bytes(trainer.save_checkpoint())
    out = tmp_path / "m.onnx"
    code, _, err = run(capsys, "export", graph_file(graph), "--to", "onnx", "--state",
                       str(tmp_path / "checkpoint.npz"), "-o", str(out))  # fmt: skip
    assert code == 0, err
    params = onnx_params(onnx.load(out))
    np.testing.assert_allclose(params["b1/l.W"], trainer.plan.params["b1/l"]["W"], rtol=1e-6)
    want = trainer.plan.buffers["b1/bn"]["running_mean"]
    np.testing.assert_allclose(params["b1/bn.running_mean"], want, rtol=1e-6)
