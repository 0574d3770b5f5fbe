"""The OpenAPI document generates a Python client without a warning
(openapi-python-client), and that client does a save → run → stream → export round trip
against a real server (the stream through `websockets`: OpenAPI has no WebSockets)."""

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from websockets.sync.client import connect

from blockprop.api.openapi import openapi as build_openapi
from blockprop.engine.data import load_dataset
from blockprop.examples import get_example

OPENAPI = build_openapi()  # built once: it creates an app


def openapi():
    return OPENAPI


GENERATOR = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    if GENERATOR is None:
        pytest.skip("openapi-python-client is not installed (pip install '.[test]')")
    root = tmp_path_factory.mktemp("generated")
    spec = root / "openapi.json"
    spec.write_text(json.dumps(openapi()), encoding="utf-8")
    config = root / "config.json"  # formatting only (it also spaces `1and`), no lint fixes
    config.write_text(json.dumps({"post_hooks": ["ruff format ."]}), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [GENERATOR, "generate", "--path", str(spec), "--meta", "none", "--config", str(config)]
        + ["--output-path", str(root / "bpclient")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output and "Warning" not in output, output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("bpclient")
    finally:
        sys.path.remove(str(root))


def test_operation_ids_are_readable_and_unique():
    ids = [op["operationId"] for path in openapi()["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"create_run", "export_onnx", "run_graph", "create_graph"} <= set(ids)
    doc = openapi()
    assert doc["components"]["securitySchemes"]
    run = doc["paths"]["/api/runs"]["post"]["responses"]
    assert "401" in run and "Retry-After" in run["429"]["headers"]
    assert "Location" in run["201"]["headers"]
    graph = doc["paths"]["/api/graphs/{graph_id}"]["get"]["responses"]["200"]
    read = graph["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["schemas"][read]["properties"]["graph"] == {
        "$ref": "#/components/schemas/Graph"
    }


def test_save_run_stream_export_with_the_generated_client(client_package, runs_server):
    ort = pytest.importorskip("onnxruntime")
    from bpclient import Client
    from bpclient.api.export import export_onnx
    from bpclient.api.graphs import create_graph
    from bpclient.api.runs import create_run, run_graph
    from bpclient.models import GraphCreate, OnnxExportRequest, RunCreate

    iris = get_example("iris")  # its document carries its dataset and settings
    client = Client(base_url=runs_server.url, raise_on_unexpected_status=True)
    doc = {**iris["graph"], "train": {**iris["train"], "epochs": 30}}
    saved = create_graph.sync_detailed(client=client, body=GraphCreate.from_dict({"graph": doc}))
    assert (
        saved.status_code == 201 and saved.headers["location"] == f"/api/graphs/{saved.parsed.id}"
    )

    created = create_run.sync(client=client, body=RunCreate(graph_id=saved.parsed.id))
    assert created.dataset["name"] == "iris" and created.config["epochs"] == 30
    url = runs_server.url.replace("http://", "ws://") + f"/api/runs/{created.id}/stream"
    with connect(url, open_timeout=10) as ws:
        while True:
            frame = json.loads(ws.recv(timeout=30))
            if frame["type"] == "status" and frame["status"] in ("done", "failed", "diverged"):
                break
    assert frame["status"] == "done"

    trained = run_graph.sync(client=client, run_id=created.id)
    assert trained.dataset.name == "iris" and trained.normalization is not None

    model = export_onnx.sync(
        client=client, body=OnnxExportRequest(run_id=created.id, targets=False)
    )
    session = ort.InferenceSession(model.payload.read(), providers=["CPUExecutionProvider"])
    raw = load_dataset("iris", seed=iris["dataset"]["seed"], normalize=False)
    (logits,) = session.run(["logits"], {"x": raw.x_test.astype(np.float32)})
    assert np.mean(logits.argmax(1) == raw.y_test) > 0.8
    client.get_httpx_client().post(
        f"/api/runs/{created.id}/stop", headers={"X-Edit-Token": created.edit_token}
    )
