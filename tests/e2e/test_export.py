"""Model export from the top bar, in a real Chromium against a real server: the ▾ next to
Export offers the graph JSON, a PyTorch module (.py) and an ONNX model (.onnx). An example
opened from the gallery downloads as PyTorch source that runs in torch (where torch is
installed) and as an ONNX model that `onnx.checker` accepts; after a training run the menu
offers the run's trained weights, and the downloaded module carries them; an invalid graph
cannot be exported, and the menu says why.

Screenshots land in test-results/screenshots/export-*.png.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
from playwright.sync_api import Page, expect

SLOW = 20_000

try:
    import torch
except ImportError:  # torch is optional: the source is still checked as text
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="torch is not installed: the exported module is not run"
)


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}}


@pytest.fixture
def app(live_server, page: Page, console_errors) -> Page:
    """The editor with the op catalogue loaded (confirmations accepted); every run the page
    started is stopped after."""
    page.on("dialog", lambda d: d.accept())
    page.goto(live_server.url + "/")
    expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
    yield page
    tokens = page.evaluate(
        """() => Object.keys(localStorage).filter(k => k.startsWith('blockprop:runtoken:'))
             .map(k => [k.slice(19), localStorage.getItem(k)])"""
    )
    for run_id, token in tokens:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{live_server.url}/api/runs/{run_id}/stop",
                headers={"X-Edit-Token": token, "Origin": live_server.url},
                timeout=5,
            )


# ---- helpers ---------------------------------------------------------------------------------


def open_example(page: Page, example: str) -> None:
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id(f"example-{example}").click()
    expect(page.locator(".react-flow__node").first).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)


def open_menu(page: Page) -> None:
    page.get_by_test_id("btn-export-menu").click()
    expect(page.get_by_test_id("export-menu")).to_be_visible()


def download(page: Page, item: str, tmp_path: Path):
    """Opens the menu, picks `item`, and returns the download (saved under tmp_path)."""
    open_menu(page)
    with page.expect_download(timeout=SLOW) as info:
        page.get_by_test_id(item).click()
    d = info.value
    path = tmp_path / d.suggested_filename
    d.save_as(path)
    expect(page.get_by_test_id("notice")).to_have_attribute("data-kind", "info")
    return d.suggested_filename, path


def import_module(path: Path):
    """Imports the downloaded source as a user's script would."""
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    classes = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == spec.name
    ]
    assert len(classes) == 1, classes
    return classes[0]


def feeds_for(graph: dict, batch: int = 5) -> dict:
    """A batch for every input (normal) and target (class 0 for labels, ½ otherwise)."""
    from blockprop.engine.graph import analyse

    an = analyse(graph)
    assert an.result.ok, an.result.errors
    gen = torch.Generator().manual_seed(0)
    feeds = {}
    for n in an.nodes:
        shape = (batch, *n.shapes[0])
        if n.op.source == "input":
            feeds[n.id] = torch.randn(shape, generator=gen)
        elif n.op.source == "target" and n.dtypes[0] == "int":
            feeds[n.id] = torch.zeros(shape, dtype=torch.int64)
        elif n.op.source == "target":
            feeds[n.id] = torch.full(shape, 0.5)
    return feeds


def source_state(source: str) -> dict:
    """The STATE literal at the end of an exported module: the parameters it starts from."""
    m = re.search(r"^STATE = (\{.*?^\})", source, re.M | re.S)
    assert m, "no STATE in the source"
    return ast.literal_eval(m.group(1))


def assert_state(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for node, params in want.items():
        assert set(got[node]) == set(params), node
        for name, value in params.items():
            assert np.allclose(got[node][name], value, rtol=1e-6, atol=1e-9), (node, name)


def xor_graph(live_server) -> dict:
    return httpx.get(f"{live_server.url}/api/examples/xor").json()["graph"]


def run_status(page: Page) -> dict[str, str]:
    return page.get_by_test_id("run-status").evaluate("e => ({...e.dataset})")


# ---- tests -----------------------------------------------------------------------------------


def test_an_example_exports_to_pytorch_and_onnx(
    app: Page, live_server, console_errors, screenshot, tmp_path
):
    page = app
    open_example(page, "spiral")
    graph = httpx.get(f"{live_server.url}/api/examples/spiral").json()["graph"]

    open_menu(page)
    for item in ("export-json", "export-pytorch", "export-onnx", "export-onnx-inference"):
        expect(page.get_by_test_id(item)).to_be_enabled()
    # no run yet: the model starts from the engine's initialisation
    expect(page.get_by_test_id("export-weights-initial")).to_contain_text("initial weights")
    expect(page.get_by_test_id("export-weights-trained")).to_have_count(0)
    screenshot("export-menu")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("export-menu")).to_have_count(0)

    # PyTorch: readable source of one nn.Module, named after the graph
    name, path = download(page, "export-pytorch", tmp_path)
    assert name == "two_spiral_classifier.py"
    source = path.read_text()
    assert "class " in source and "nn.Module" in source
    assert re.search(r"^class \w+\(nn\.Module\):", source, re.M)
    compile(source, name, "exec")

    # ONNX: a model the checker accepts, with the targets and the loss
    name, path = download(page, "export-onnx", tmp_path)
    assert name == "two_spiral_classifier.onnx"
    model = onnx.load_from_string(path.read_bytes())
    onnx.checker.check_model(model)
    inputs = {i.name for i in model.graph.input} - {i.name for i in model.graph.initializer}
    assert inputs == {n["id"] for n in graph["nodes"] if n["op"] in ("input", "target")}
    assert "loss" in {o.name for o in model.graph.output}

    # ONNX for inference: no targets, no loss
    _, path = download(page, "export-onnx-inference", tmp_path)
    inference = onnx.load_from_string(path.read_bytes())
    onnx.checker.check_model(inference)
    fed = {i.name for i in inference.graph.input} - {i.name for i in inference.graph.initializer}
    assert fed == {n["id"] for n in graph["nodes"] if n["op"] == "input"}
    assert "loss" not in {o.name for o in inference.graph.output}

    # The graph JSON is still one click away, in the menu and on Export itself.
    name, path = download(page, "export-json", tmp_path)
    assert name.endswith(".json")
    assert {n["id"] for n in json.loads(path.read_text())["nodes"]} == {
        n["id"] for n in graph["nodes"]
    }
    assert console_errors == []


@needs_torch
def test_the_exported_module_runs_in_torch(app: Page, live_server, console_errors, tmp_path):
    page = app
    open_example(page, "spiral")
    graph = httpx.get(f"{live_server.url}/api/examples/spiral").json()["graph"]
    _, path = download(page, "export-pytorch", tmp_path)
    Module = import_module(path)
    model = Module()
    assert isinstance(model, torch.nn.Module)
    loss, values = model(**feeds_for(graph))
    assert loss is not None and loss.dim() == 0 and torch.isfinite(loss)
    assert set(values) == {n["id"] for n in graph["nodes"]}
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert console_errors == []


def test_a_trained_run_exports_its_weights(
    app: Page, live_server, console_errors, screenshot, tmp_path
):
    page = app
    open_example(page, "xor")
    page.get_by_test_id("train-tab-settings").click()
    epochs = page.get_by_test_id("train-epochs")
    epochs.fill("40")
    epochs.press("Enter")
    page.get_by_test_id("btn-train-play").click()
    deadline = time.monotonic() + 30
    while (s := run_status(page))["status"] != "done":
        assert time.monotonic() < deadline, f"the run did not finish: {s}"
        page.wait_for_timeout(100)
    run_id = page.evaluate("() => new URL(location.href).searchParams.get('run')")
    assert run_id
    trained = httpx.get(f"{live_server.url}/api/runs/{run_id}/state").json()
    assert trained["step"] > 0

    open_menu(page)
    choice = page.get_by_test_id("export-weights-trained")
    expect(choice).to_have_attribute("aria-checked", "true")  # the default when there is a run
    expect(choice).to_contain_text(f"step {trained['step']}")
    expect(page.get_by_test_id("export-weights-initial")).to_have_attribute("aria-checked", "false")
    screenshot("export-menu-trained")
    page.keyboard.press("Escape")

    _, path = download(page, "export-pytorch", tmp_path)
    source = path.read_text()
    expect(page.get_by_test_id("notice")).to_contain_text(f"run {run_id}")
    # the trained numbers are the module's STATE, not the seed's
    assert_state(source_state(source), trained["state"])

    # initial weights instead: the engine's initialisation, as the server gives it for the seed
    open_menu(page)
    page.get_by_test_id("export-weights-initial").click()
    expect(page.get_by_test_id("export-menu")).to_have_attribute("data-weights", "initial")
    with page.expect_download(timeout=SLOW) as info:
        page.get_by_test_id("export-pytorch").click()
    initial = Path(info.value.path()).read_text()
    assert "seed 0" in initial
    seeded = httpx.post(
        f"{live_server.url}/api/export/pytorch", json={"graph": xor_graph(live_server), "seed": 0}
    )
    assert seeded.status_code == 200, seeded.text
    assert_state(source_state(initial), source_state(seeded.text))
    with pytest.raises(AssertionError):
        assert_state(source_state(initial), trained["state"])

    if torch is not None:  # and the module, imported, holds them
        Module = import_module(path)
        assert_state(Module(dtype=torch.float64).graph_state(), trained["state"])
    assert console_errors == []


def test_an_invalid_graph_cannot_be_exported(app: Page, console_errors, screenshot, tmp_path):
    page = app
    broken = {
        "version": 1,
        "name": "broken",
        "nodes": [
            {"id": "x", "op": "input", "params": {"shape": [3]}, "ui": {"x": 0, "y": 0}},
            # no input wired to the linear block
            {"id": "lin", "op": "linear", "params": {"out_features": 2}, "ui": {"x": 200, "y": 0}},
        ],
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    page.get_by_test_id("import-file").set_input_files(str(path))
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "invalid", timeout=SLOW)

    open_menu(page)
    for item in ("export-pytorch", "export-onnx", "export-onnx-inference"):
        expect(page.get_by_test_id(item)).to_be_disabled()
        expect(page.get_by_test_id(item)).to_have_attribute("title", re.compile("invalid"))
    expect(page.get_by_test_id("export-disabled-reason")).to_contain_text("invalid")
    expect(page.get_by_test_id("export-json")).to_be_enabled()
    screenshot("export-menu-invalid")
    # the graph JSON of a draft is fine
    with page.expect_download(timeout=SLOW) as info:
        page.get_by_test_id("export-json").click()
    assert json.loads(Path(info.value.path()).read_text())["name"] == "broken"
    assert console_errors == []
