"""The command line: train (with --json, outputs and exit codes), validate, datasets, examples."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pytest

from blockprop.cli import main
from blockprop.engine.data import load_dataset
from blockprop.engine.trainer import TrainConfig, Trainer

SPIRAL_GRAPH = {
    "version": 1,
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}},
        {"id": "y", "op": "target", "params": {"shape": [], "dtype": "int"}},
        {"id": "l1", "op": "linear", "params": {"out_features": 8}, "inputs": {"x": "x"}},
        {"id": "h", "op": "tanh", "inputs": {"x": "l1"}},
        {"id": "l2", "op": "linear", "params": {"out_features": 2}, "inputs": {"x": "h"}},
        {"id": "c", "op": "cross_entropy", "inputs": {"logits": "l2", "target": "y"}},
    ],
}
LINE_GRAPH = {
    "version": 1,
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [1]}},
        {"id": "y", "op": "target", "params": {"shape": [1]}},
        {"id": "lin", "op": "linear", "params": {"out_features": 1}, "inputs": {"x": "x"}},
        {"id": "c", "op": "squared_error", "inputs": {"y": "lin", "target": "y"}},
    ],
}
SUMMARY_KEYS = {
    "steps",
    "epochs",
    "seconds",
    "steps_per_second",
    "train_loss",
    "test_loss",
    "accuracy",
    "status",
}


@pytest.fixture
def graph_file(tmp_path):
    def write(doc, name="graph.json"):
        p = tmp_path / name
        p.write_text(json.dumps(doc))
        return str(p)

    return write


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_datasets_and_examples(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0 and "spiral" in out and "digits" in out and "classification" in out
    code, out, _ = run(capsys, "datasets", "--json")
    assert {d["name"] for d in json.loads(out)} >= {"iris", "linear"}
    code, out, _ = run(capsys, "examples", "--json")
    assert code == 0 and "spiral" in {e["id"] for e in json.loads(out)}


def test_validate_prints_order_and_shapes(capsys, graph_file):
    code, out, _ = run(capsys, "validate", graph_file(SPIRAL_GRAPH))
    assert code == 0
    assert "order: x → y → l1 → h → l2 → c" in out
    assert re.search(r"^l1 +\[8\]$", out, re.M) and re.search(r"^c +\[\]$", out, re.M)
    code, out, _ = run(capsys, "validate", "residual")  # a shipped example by id
    assert code == 0 and "dup:y1" in out
    code, out, _ = run(capsys, "validate", "--json", graph_file(SPIRAL_GRAPH))
    assert json.loads(out)["ok"] is True


def test_validate_reports_errors_with_exit_1(capsys, graph_file):
    bad = json.loads(json.dumps(SPIRAL_GRAPH))
    bad["nodes"][2]["inputs"] = {"x": "h"}  # l1 <- h <- l1: a cycle
    code, _, err = run(capsys, "validate", graph_file(bad))
    assert code == 1 and "error cycle:" in err and "l1" in err
    code, out, _ = run(capsys, "validate", "--json", graph_file(bad))
    assert code == 1 and json.loads(out)["errors"][0]["code"] == "cycle"
    code, _, err = run(
        capsys, "validate", graph_file("{not json", "x.json") if False else "nope.json"
    )
    assert code == 2 and "no such file" in err


def test_validate_invalid_json(capsys, tmp_path):
    p = tmp_path / "g.json"
    p.write_text("{not json")
    code, _, err = run(capsys, "validate", str(p))
    assert code == 1 and "not valid JSON" in err


def test_train_json_summary_and_outputs(capsys, graph_file, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys,
        "train",
        graph_file(SPIRAL_GRAPH),
        "--dataset",
        "spiral",
        "--n",
        "200",
        "--noise",
        "0.05",
        "--epochs",
        "5",
        "--batch-size",
        "32",
        "--optimizer",
        "adam",
        "--lr",
        "0.02",
        "--seed",
        "3",
        "--out",
        str(out_dir),
        "--json",
    )
    assert code == 0, err
    summary = json.loads(out)  # one JSON object, nothing else on stdout
    assert set(summary) >= SUMMARY_KEYS
    assert summary["status"] == "done" and summary["epochs"] == 5
    assert summary["steps"] == 5 * 5  # 160 training samples in batches of 32
    assert 0.0 <= summary["accuracy"] <= 1.0 and summary["steps_per_second"] > 0
    with open(out_dir / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 25 and rows[0]["step"] == "1" and rows[-1]["accuracy"]
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert len(metrics["points"]) == 25 and metrics["summary"] == summary
    assert metrics["config"]["optimizer"] == "adam"
    state = json.loads((out_dir / "state.json").read_text())
    assert set(state) == {"l1", "l2"}
    # the saved state reproduces the reported test loss
    ds = load_dataset("spiral", n=200, noise=0.05)
    t = Trainer(SPIRAL_GRAPH, ds, TrainConfig(), state=state)
    assert t.evaluate()["test_loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    graph = json.loads((out_dir / "graph.json").read_text())
    assert graph["state"] == state
    assert (out_dir / "checkpoint.npz").stat().st_size > 0


def test_train_an_example_with_its_suggested_settings(capsys):
    code, out, _ = run(capsys, "train", "linear_regression", "--json", "--epochs", "40")
    summary = json.loads(out)
    assert code == 0 and summary["epochs"] == 40 and summary["accuracy"] is None


def test_train_on_a_csv_file(capsys, graph_file, tmp_path):
    rows = ["a,b,label"] + [
        f"{x:.3f},{y:.3f},{'in' if x * x + y * y < 0.4 else 'out'}"
        for x in (-0.9, -0.5, -0.1, 0.3, 0.7)
        for y in (-0.8, -0.3, 0.2, 0.6, 0.9)
    ]
    data = tmp_path / "points.csv"
    data.write_text("\n".join(rows) + "\n")
    code, out, err = run(
        capsys,
        "train",
        graph_file(SPIRAL_GRAPH),
        "--data",
        str(data),
        "--epochs",
        "3",
        "--json",
        "--test-fraction",
        "0.2",
        "--no-normalize",
    )
    assert code == 0, err
    assert json.loads(out)["steps"] == 3


def test_bad_csv_exits_1_naming_line_and_column(capsys, graph_file, tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    code, _, err = run(capsys, "train", graph_file(SPIRAL_GRAPH), "--data", str(data))
    assert code == 1
    assert "not_numeric" in err and "line 3" in err and "'b'" in err


def test_divergence_exits_1(capsys, graph_file):
    code, out, _ = run(
        capsys,
        "train",
        graph_file(LINE_GRAPH),
        "--dataset",
        "sine",
        "--lr",
        "1e6",
        "--epochs",
        "20",
        "--json",
    )
    summary = json.loads(out)
    assert code == 1 and summary["status"] == "diverged"
    assert summary["diverged_node"] in {"lin", "c"} and summary["diverged_step"] <= 4


def test_graph_that_does_not_fit_the_data_exits_1(capsys, graph_file):
    code, _, err = run(capsys, "train", graph_file(SPIRAL_GRAPH), "--dataset", "iris")
    assert code == 1
    assert "input node 'x' has shape [2] but dataset 'iris' has 4 features" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--epochs", "2"], "--dataset NAME or --data FILE"),
        (["--dataset", "spiral", "--data", "x.csv"], "cannot be combined"),
        (["--data", "x.txt"], "expected a .csv or .npz"),
    ],
)
def test_usage_errors_exit_2(capsys, graph_file, argv, words):
    code, _, err = run(capsys, "train", graph_file(SPIRAL_GRAPH), *argv)
    assert code == 2 and words in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "spiral", "--batch-size", "0"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["train", "spiral", "--optimizer", "lbfgs"])
    assert e.value.code == 2
    # each flag is checked against its setting's declared bounds, naming the setting
    with pytest.raises(SystemExit) as e:
        main(["train", "spiral", "--lr", "-1"])
    assert e.value.code == 2
    assert "lr must be a number > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["serve", "--help"])  # serve is still there
    assert e.value.code == 0


def test_console_script_end_to_end_with_progress_bar(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "blockprop.cli",
            "train",
            "xor",
            "--epochs",
            "30",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "30/30" in proc.stderr and "loss=" in proc.stderr  # the tqdm bar
    assert proc.stdout.startswith("done: 30 steps, 30 epochs")
    proc = subprocess.run(
        [sys.executable, "-m", "blockprop.cli", "train", "xor", "--epochs", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "done"
    assert proc.stderr == ""  # --json: no progress bar


def test_a_document_carries_its_dataset_and_settings_through_train(capsys, graph_file, tmp_path):
    """`blockprop train graph.json` trains on the document's dataset with its settings (flags
    still override them), and --out's graph.json carries them and the normalisation."""
    doc = {
        **SPIRAL_GRAPH,
        "dataset": {"name": "spiral", "n": 120, "seed": 3},
        "train": {"epochs": 3, "batch_size": 40, "optimizer": "adam", "lr": 0.01},
    }
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "train", graph_file(doc), "--epochs", "2", "--json", "--out",
                          str(out))  # fmt: skip
    assert code == 0, stdout
    summary = json.loads(stdout)
    assert summary["epochs"] == 2 and summary["steps"] == 2 * 3  # 96 training samples / 40
    written = json.loads((out / "graph.json").read_text())
    assert written["dataset"] == {"name": "spiral", "n": 120, "seed": 3}
    assert written["train"] == {"epochs": 2, "batch_size": 40, "optimizer": "adam", "lr": 0.01}
    assert (
        set(written["normalization"]) == {"x"} and len(written["normalization"]["x"]["mean"]) == 2
    )
    # and it trains again as it is
    code, stdout, _ = run(capsys, "train", str(out / "graph.json"), "--json")
    assert code == 0 and json.loads(stdout)["epochs"] == 2
