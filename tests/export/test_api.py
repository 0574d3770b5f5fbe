"""POST /api/export/{pytorch,onnx} on a real server: downloads, errors, and the source running
in torch (skipped, visibly, without torch)."""

from __future__ import annotations

import copy
import importlib.util

import httpx
import numpy as np
import onnx
import pytest

from blockprop.engine import registry
from blockprop.engine.registry import OpDef, Sample

from .helpers import doc, engine_run, example_graph, node, random_feeds

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed: running the exported source is skipped",
)


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "nodes", "port"}
    assert body["error"]["code"] == code, body
    return body["error"]


def test_pytorch_source_download(http):
    d = example_graph("spiral")
    r = http.post("/api/export/pytorch", json={"graph": d, "seed": 3})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    assert r.headers["content-disposition"] == 'attachment; filename="two_spiral_classifier.py"'
    assert "class TwoSpiralClassifier(nn.Module):" in r.text
    compile(r.text, "spiral.py", "exec")


@needs_torch
@pytest.mark.parametrize("example", ["spiral", "residual", "digits_softmax"])
def test_the_downloaded_source_imports_and_runs_in_torch(http, tmp_path, example, monkeypatch):
    import torch

    d = example_graph(example)
    r = http.post("/api/export/pytorch", json={"graph": d, "seed": 1})
    path = tmp_path / r.headers["content-disposition"].split('filename="')[1].rstrip('"')
    path.write_text(r.text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # an import, as a user's script would do
    cls = next(v for k, v in vars(module).items() if isinstance(v, type) and k[0].isupper())
    model = cls(dtype=torch.float64).eval()
    feeds = random_feeds(d, 6, seed=2)
    loss, values = model(**{k: torch.tensor(v) for k, v in feeds.items()})
    loss.backward()
    plan = engine_run(d, feeds, seed=1)
    assert loss.item() == pytest.approx(plan.loss, rel=1e-6)
    for k, v in plan.values.items():
        np.testing.assert_allclose(values[k].detach().numpy(), v, rtol=1e-6, atol=1e-9)
    for attr, (nid, name) in model.PARAMETERS.items():
        np.testing.assert_allclose(
            getattr(model, attr).grad.numpy(), plan.param_grads[nid][name], rtol=1e-6, atol=1e-9
        )


def test_onnx_model_download(http):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    d = example_graph("iris")
    r = http.post("/api/export/onnx", json={"graph": d})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/onnx"
    assert r.headers["content-disposition"] == 'attachment; filename="iris_classifier.onnx"'
    model = onnx.load_from_string(r.content)
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(r.content, providers=["CPUExecutionProvider"])
    feeds = random_feeds(d, 4)
    outs = sess.run(["logits", "loss"], {"x": feeds["x"].astype(np.float32), "y": feeds["y"]})
    plan = engine_run(d, feeds, backward=False)
    np.testing.assert_allclose(outs[0], plan.values["logits"], rtol=1e-4, atol=1e-5)
    assert float(outs[1]) == pytest.approx(plan.loss, rel=1e-4)
    r = http.post("/api/export/onnx", json={"graph": d, "targets": False})
    assert [i.name for i in onnx.load_from_string(r.content).graph.input] == ["x"]


def test_the_graphs_state_is_exported(http):
    d = {**example_graph("linear_regression"), "state": {"lin": {"W": [[2.5]], "b": [-1.0]}}}
    src = http.post("/api/export/pytorch", json={"graph": d}).text
    assert '"lin": {\n        "W": [[2.5]],\n        "b": [-1.0],\n    },' in src
    model = onnx.load_from_string(http.post("/api/export/onnx", json={"graph": d}).content)
    inits = {i.name: onnx.numpy_helper.to_array(i).tolist() for i in model.graph.initializer}
    assert inits["lin.W"] == [[2.5]] and inits["lin.b"] == [-1.0]


@pytest.mark.parametrize("to", ["pytorch", "onnx"])
def test_invalid_graphs_give_the_validate_codes(http, to):
    cycle = doc(node("a", "tanh", {"x": "b"}), node("b", "tanh", {"x": "a"}))
    err = assert_error(http.post(f"/api/export/{to}", json={"graph": cycle}), 422, "cycle")
    assert set(err["nodes"]) == {"a", "b"}
    bad = copy.deepcopy(example_graph("xor"))
    bad["nodes"][2]["op"] = "lineer"
    err = assert_error(http.post(f"/api/export/{to}", json={"graph": bad}), 422, "unknown_op")
    assert err["nodes"] == ["hidden"] and "linear" in err["message"]
    missing = doc(node("x", "input", shape=[2]), node("h", "tanh"))
    err = assert_error(
        http.post(f"/api/export/{to}", json={"graph": missing}), 422, "missing_input"
    )
    assert err["nodes"] == ["h"] and err["port"] == "x"
    state = {**example_graph("xor"), "state": {"hidden": {"W": [[1.0]]}}}
    assert_error(http.post(f"/api/export/{to}", json={"graph": state}), 422, "bad_state")


@pytest.mark.parametrize("to", ["pytorch", "onnx"])
def test_bad_requests(http, to):
    d = example_graph("xor")
    err = assert_error(http.post(f"/api/export/{to}", json={"graph": d, "sead": 1}), 422,
                       "invalid_request")  # fmt: skip
    assert "sead" in err["message"]
    assert_error(http.post(f"/api/export/{to}", json={"graph": d, "seed": -1}), 422,
                 "invalid_request")  # fmt: skip
    assert_error(http.post(f"/api/export/{to}", json=d), 422, "invalid_request")  # not wrapped


@pytest.mark.parametrize("to", ["pytorch", "onnx"])
def test_origin_and_body_size_rules_apply(http, to):
    d = example_graph("xor")
    r = http.post(f"/api/export/{to}", json={"graph": d}, headers={"Origin": "https://evil.test"})
    assert_error(r, 403, "forbidden_origin")
    padding = {"graph": {**d, "name": "n" * 200}, "seed": 0}
    assert http.post(f"/api/export/{to}", json=padding).status_code == 200
    huge = b'{"graph": {"nodes": [], "description": "' + b"x" * 2_100_000 + b'"}}'
    r = http.post(f"/api/export/{to}", content=huge, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large")


def test_too_many_parameters_for_source(http):
    d = doc(
        node("x", "input", shape=[2000]),
        node("l", "linear", {"x": "x"}, out_features=1001),
    )
    err = assert_error(http.post("/api/export/pytorch", json={"graph": d}), 413, "too_large")
    assert "2,000,000" in err["message"] and "ONNX" in err["message"]


# ------------------------------------------------------------------ in-process: not_exportable


@pytest.fixture
def client():
    """Posts to an app in this process (where a test op can be registered); the lifespan
    (store, run manager) is not started: exporting needs neither."""
    import asyncio

    from blockprop.api.app import create_app
    from blockprop.settings import Settings

    # heavy requests in threads of this process: compute workers would not know the test op
    app = create_app(Settings(_env_file=None, compute_executor="thread"))

    class Client:
        def post(self, path: str, **kw) -> httpx.Response:
            async def go() -> httpx.Response:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://127.0.0.1:8000"
                ) as c:
                    return await c.post(path, **kw)

            return asyncio.run(go())

    return Client()


@pytest.fixture
def unexportable():
    op = OpDef(
        name="test_api_noexport",
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


@pytest.mark.parametrize("to", ["pytorch", "onnx"])
def test_an_op_without_a_rule_is_not_exportable(client, unexportable, to):
    d = doc(node("x", "input", shape=[2]), node("odd", unexportable.name, {"x": "x"}))
    err = assert_error(client.post(f"/api/export/{to}", json={"graph": d}), 422, "not_exportable")
    assert err["nodes"] == ["odd"]
    assert "'odd'" in err["message"] and unexportable.name in err["message"]
