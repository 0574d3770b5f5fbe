"""Exports of a trained run work on raw data: the run's trained parameters and the
normalisation of its inputs go in, and the ONNX model (in onnxruntime) and the PyTorch module
(in torch) reach the run's accuracy on raw Iris measurements."""

import io

import numpy as np
import pytest

from blockprop.engine.data import load_dataset
from blockprop.examples import get_example

from .conftest import assert_error

IRIS = get_example("iris")
GRAPH = {k: v for k, v in IRIS["graph"].items() if k not in ("dataset", "train")}


@pytest.fixture(scope="module")
def iris_run(runs_server):
    from .conftest import Api

    api = Api(runs_server.url)
    run = api.start_run(doc=GRAPH, dataset=IRIS["dataset"], train=IRIS["train"])
    done = api.wait_status(run, {"done"}, timeout=60)
    points = api.get(f"/api/runs/{run['id']}/metrics").json()["points"]
    accuracy = [p["accuracy"] for p in points if "accuracy" in p][-1]
    assert accuracy > 0.85, accuracy
    raw = load_dataset("iris", seed=IRIS["dataset"]["seed"], normalize=False)
    yield api, done, accuracy, raw
    api.stop_all()
    api.close()


def test_onnx_of_a_run_on_raw_measurements_reaches_its_accuracy(iris_run):
    ort = pytest.importorskip("onnxruntime")
    api, run, accuracy, raw = iris_run
    r = api.post("/api/export/onnx", json={"run_id": run["id"], "targets": False})
    assert r.status_code == 200, r.text
    session = ort.InferenceSession(r.content, providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"x": raw.x_test.astype(np.float32)})
    assert np.mean(logits.argmax(1) == raw.y_test) == pytest.approx(accuracy, abs=1.5 / 30)
    # without the normalisation step the model wants normalised inputs
    r = api.post(
        "/api/export/onnx", json={"run_id": run["id"], "targets": False, "normalize": False}
    )
    session = ort.InferenceSession(r.content, providers=["CPUExecutionProvider"])
    scaled = load_dataset("iris", seed=IRIS["dataset"]["seed"]).x_test.astype(np.float32)
    (plain,) = session.run(["logits"], {"x": scaled})
    np.testing.assert_allclose(plain, logits, rtol=1e-4, atol=1e-4)
    assert "normalization" not in {p.key for p in _onnx(r.content).metadata_props}


def test_pytorch_of_a_run_on_raw_measurements_reaches_its_accuracy(iris_run):
    torch = pytest.importorskip("torch")
    api, run, accuracy, raw = iris_run
    r = api.post("/api/export/pytorch", json={"run_id": run["id"]})
    assert r.status_code == 200, r.text
    source = r.text
    assert "normalised: (raw - training mean) / training std" in source  # visible in forward
    namespace: dict = {}
    exec(compile(source, "iris.py", "exec"), namespace)  # noqa: S102 - our own export
    cls = next(v for v in namespace.values() if getattr(v, "GRAPH_NAME", None) is not None)
    model = cls().eval()
    with torch.no_grad():
        x = torch.tensor(raw.x_test, dtype=torch.float32)
        y = torch.tensor(raw.y_test, dtype=torch.int64)
        _, values = model(x=x, y=y)
    predicted = values["logits"].argmax(1).numpy()
    assert np.mean(predicted == raw.y_test) == pytest.approx(accuracy, abs=1.5 / 30)


def test_export_needs_a_graph_or_a_known_run(runs_api):
    assert_error(runs_api.post("/api/export/onnx", json={"run_id": "nope"}), 404)
    assert_error(runs_api.post("/api/export/onnx", json={}), 422, "invalid_request")


def test_a_document_with_a_bad_normalization_is_refused_naming_the_node(runs_api):
    doc = {**GRAPH, "state": None, "normalization": {"x": {"mean": [0, 0], "std": [1, 1]}}}
    doc.pop("state")
    err = assert_error(runs_api.post("/api/export/onnx", json={"graph": doc}), 422)
    assert err["code"] == "bad_normalization" and err["nodes"] == ["x"]


def _onnx(data: bytes):
    import onnx

    return onnx.load(io.BytesIO(data))


def test_blockprop_export_of_a_run_from_the_servers_database(iris_run, runs_server, tmp_path,
                                                              monkeypatch, capsys):  # fmt: skip
    ort = pytest.importorskip("onnxruntime")
    from blockprop.cli import main

    api, run, accuracy, raw = iris_run
    monkeypatch.setenv("BLOCKPROP_DATABASE", str(runs_server.database))
    out = tmp_path / "iris.onnx"
    assert main(["export", "--run", run["id"], "--to", "onnx", "--no-targets", "-o", str(out)]) == 0
    session = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"x": raw.x_test.astype(np.float32)})
    assert np.mean(logits.argmax(1) == raw.y_test) == pytest.approx(accuracy, abs=1.5 / 30)
    assert main(["export", "--run", "nope", "--to", "onnx"]) == 2
    assert "no such run" in capsys.readouterr().err
