"""The classroom (issue 8) in a real Chromium against a real server.

- Explain mode on a two-layer network in the notes' style (x ∈ R² → Linear 4 → ReLU →
  Linear 2 → cross-entropy with a class label; small enough that every number is on screen)
  shows, step by step, the same values, gradients, local results and update as
  POST /api/evaluate; the notes' own network (`notes_network`, 600 inputs) explains too.
- One click on "Check gradients" badges every node and parameter green, on every shipped example.
- Presentation mode from the URL (chrome hidden, chosen controls hidden, arrow keys step).
- Follow mode: a second browser context mirrors the teacher's explain step within a second, and
  cannot change the teacher's graph (no editing in the page, 403 from the server); it can fork.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from graphs import TWO_LAYER
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

SLOW = 20_000

SAMPLE = {"x": [[0.5, -1.0]], "y": [1]}


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 960}}


def store(url: str, graph: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{url}/api/graphs", json={"graph": graph}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def open_explain(page: Page, url: str, graph: dict[str, Any], query: str = "") -> None:
    stored = store(url, graph)
    page.goto(f"{url}/g/{stored['id']}{query}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "valid", timeout=SLOW)
    page.get_by_test_id("btn-explain").click()
    expect(page.get_by_test_id("explain-card")).to_have_attribute("data-phase", "start")


def card(page: Page) -> dict[str, Any]:
    c = page.get_by_test_id("explain-card")
    return {
        "phase": c.get_attribute("data-phase"),
        "node": c.get_attribute("data-node"),
        "value": json.loads(c.get_attribute("data-value") or "null"),
        "grad": json.loads(c.get_attribute("data-grad") or "null"),
    }


def step_to(page: Page, position: int) -> None:
    counter = page.get_by_test_id("explain-step")
    while int(counter.get_attribute("data-position") or 0) < position:
        page.keyboard.press("ArrowRight")
    expect(counter).to_have_attribute("data-position", str(position))


def fmt(x: float) -> str:
    """The page's number format (tex.ts fmt): four significant digits."""
    if float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    a = abs(x)
    if a != 0 and (a < 1e-3 or a >= 1e6):
        m, e = f"{x:.2e}".split("e")
        return f"{float(m):g}e{int(e)}"
    return f"{float(f'{x:.4g}'):g}"


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-12)


def test_explain_shows_the_numbers_of_evaluate(live_server, page: Page, console_errors, screenshot):
    url = live_server.url
    open_explain(page, url, TWO_LAYER)
    page.get_by_test_id("explain-input-x").fill("0.5, -1")
    page.get_by_test_id("explain-input-y").fill("1")
    page.get_by_test_id("explain-run").click()
    expect(page.get_by_test_id("explain-input-x")).to_have_value("0.5, -1")

    ev = httpx.post(
        f"{url}/api/evaluate", json={"graph": TWO_LAYER, "inputs": SAMPLE, "seed": 0}
    ).json()
    order = ["x", "y", "l1", "h", "l2", "c"]
    counter = page.get_by_test_id("explain-step")
    expect(counter).to_have_attribute("data-total", "12")

    # forward: each node in topological order, its value as evaluate computes it
    for i, nid in enumerate(order, start=1):
        step_to(page, i)
        got = card(page)
        assert (got["phase"], got["node"]) == ("forward", nid)
        close(got["value"], ev["values"][nid][0])
        expect(page.get_by_test_id(f"explain-ring-{nid}")).to_be_visible()
        chip = page.get_by_test_id(f"explain-value-{nid}").inner_text()
        first = np.ravel(ev["values"][nid][0])[0]
        assert fmt(first) in chip, (chip, first)
        if nid == "l1":
            screenshot("classroom-explain-forward-l1")
    loss = float(page.get_by_test_id("explain-loss").get_attribute("data-value"))
    assert loss == pytest.approx(ev["loss"])

    # backward: reverse order, dC/d(output) as evaluate's gradient (labels have none)
    for i, nid in enumerate(["c", "l2", "h", "l1", "x"], start=7):
        step_to(page, i)
        got = card(page)
        assert (got["phase"], got["node"]) == ("backward", nid)
        if nid == "x":  # evaluate leaves data out of `grads`: dC/dx = W1ᵀ dC/d(l1)
            want = np.array(ev["state"]["l1"]["W"]).T @ np.array(ev["grads"]["l1"][0])
        else:
            want = ev["grads"][nid][0]
        close(got["grad"], want)
        if nid == "l2":
            # the local rules with the numbers: dC/dx = Wᵀ dC/dy, dC/dW = dC/dy xᵀ, dC/db
            rules = page.get_by_test_id("explain-rules").locator("li")
            expect(rules).to_have_count(3)
            W = np.array(ev["state"]["l2"]["W"])
            g = np.array(ev["grads"]["l2"][0])
            close(json.loads(rules.nth(0).get_attribute("data-value")), W.T @ g)
            close(
                json.loads(rules.nth(1).get_attribute("data-value")), ev["param_grads"]["l2"]["W"]
            )
            close(
                json.loads(rules.nth(1).get_attribute("data-value")),
                np.outer(g, ev["values"]["h"][0]),
            )
            close(
                json.loads(rules.nth(2).get_attribute("data-value")), ev["param_grads"]["l2"]["b"]
            )
            tex = rules.nth(0).locator("[data-tex]").get_attribute("data-tex")
            assert r"{W}^\top" in tex and fmt(W[0][0]) in tex
            expect(page.get_by_test_id("explain-op-backward")).to_be_visible()
            screenshot("classroom-explain-backward-l2")
        if nid == "h":  # ReLU passes dC/dy where its input is positive
            rule = json.loads(
                page.get_by_test_id("explain-rules").locator("li").first.get_attribute("data-value")
            )
            l1 = np.array(ev["values"]["l1"][0])
            close(rule, np.where(l1 > 0, ev["grads"]["h"][0], 0.0))

    # the update of a chosen parameter: w ← w − η ∂L/∂w
    step_to(page, 12)
    assert card(page)["phase"] == "update"
    page.get_by_test_id("update-param").select_option("l1.W")
    page.get_by_test_id("update-lr").fill("0.5")
    line = page.get_by_test_id("update-lines").locator("li").first
    close(
        json.loads(line.get_attribute("data-value")),
        np.array(ev["state"]["l1"]["W"]) - 0.5 * np.array(ev["param_grads"]["l1"]["W"]),
    )
    screenshot("classroom-explain-update")

    # previous, first, auto-play at a chosen speed to the end
    page.get_by_test_id("explain-prev").click()
    expect(counter).to_have_attribute("data-position", "11")
    page.get_by_test_id("explain-first").click()
    expect(counter).to_have_attribute("data-position", "0")
    page.get_by_test_id("explain-speed").fill("4")
    page.get_by_test_id("explain-play").click()
    expect(counter).to_have_attribute("data-position", "12", timeout=8000)
    expect(page.get_by_test_id("explain-play")).to_have_attribute("aria-pressed", "false")

    # the transformed graph: edges reversed, blocks replaced by their VJPs
    page.keyboard.press("b")
    bg = page.get_by_test_id("backward-graph")
    expect(bg).to_be_visible()
    expect(bg.get_by_test_id("bg-node-l2")).to_contain_text("VJP of Linear")
    expect(bg.get_by_test_id("bg-node-c")).to_have_attribute("data-kind", "seed")
    expect(bg.locator(".react-flow__edge")).to_have_count(4)  # x←l1←h←l2←c; no edge to labels
    screenshot("classroom-backward-graph")
    page.keyboard.press("Escape")
    expect(bg).to_have_count(0)
    assert console_errors == []


def _n(nid: str, op: str, inputs: dict | None = None, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": nid, "op": op, "params": params}
    if inputs:
        node["inputs"] = inputs
    return node


#: one DAG with every op of the registry: fan-out everywhere, two outputs, a computed target
EVERY_OP = [
    _n("x", "input", shape=[4]),
    _n("t", "target", shape=[4]),
    _n("label", "target", shape=[], dtype="int"),
    _n("t2", "target", shape=[2]),
    _n("p", "parameter", shape=[4]),
    _n("k", "constant", value=[0.5, -1, 1.5, 2]),
    _n("l1", "linear", {"x": "x"}, out_features=4),
    _n("r", "relu", {"x": "l1"}),
    _n("lr", "leaky_relu", {"x": "l1"}, slope=0.1),
    _n("th", "tanh", {"x": "l1"}),
    _n("sg", "sigmoid", {"x": "l1"}),
    _n("sm", "softmax", {"x": "l1"}),
    _n("ls", "log_softmax", {"x": "l1"}),
    _n("dp", "dropout", {"x": "th"}, p=0.5),
    _n("a", "add", {"a": "r", "b": "p"}),
    _n("s", "subtract", {"a": "lr", "b": "k"}),
    _n("m", "multiply", {"a": "th", "b": "sg"}),
    _n("mx", "max", {"a": "a", "b": "s"}),
    _n("dup", "duplicate", {"x": "mx"}),
    _n("sq", "square", {"x": "dup:y1"}),
    _n("ex", "exp", {"x": "sg"}),
    _n("lg", "log", {"x": "ex"}),
    _n("cat", "concat", {"a": "sq", "b": "dup:y2"}, axis=0),
    _n("rs", "reshape", {"x": "cat"}, shape=[2, 4]),
    _n("fl", "flatten", {"x": "rs"}),
    _n("mm", "matmul", {"a": "rs", "b": "x"}),
    _n("sd", "sq_distance", {"x": "lg"}, rows=3),
    _n("am", "argmin", {"x": "sd"}),
    _n("su", "sum", {"x": "fl"}),
    _n("mn", "mean", {"x": "m"}),
    _n("c1", "mse", {"y": "a", "target": "t"}),
    _n("c2", "cross_entropy", {"logits": "sd", "target": "label"}),
    _n("c3", "nll", {"logp": "ls", "target": "label"}),
    _n("c4", "binary_cross_entropy", {"logits": "m", "target": "t"}),
    _n("c5", "hinge", {"y": "s", "target": "t"}),
    _n("c6", "l1", {"y": "dp", "target": "t"}),
    _n("c7", "squared_error", {"y": "mm", "target": "t2"}),
    _n("c8", "squared_error", {"y": "su", "target": "mn"}),
    _n("c9", "squared_error", {"y": "sm", "target": "t"}),
    _n("c10", "as_cost", {"x": "mn"}),
    # the layers of today's courses (issue 18), summed into one more cost
    _n("img", "input", shape=[1, 4, 4]),
    _n("seq", "input", shape=[2, 5]),
    _n("ids", "input", shape=[3], dtype="int"),
    _n("cv", "conv2d", {"x": "img"}, out_channels=2, kernel_size=3, padding=1),
    _n("bn", "batch_norm", {"x": "cv"}),
    _n("mp", "max_pool2d", {"x": "bn"}),
    _n("ap", "avg_pool2d", {"x": "cv"}),
    _n("gp", "global_avg_pool", {"x": "mp"}),
    _n("tp", "transpose", {"x": "ap"}),
    _n("cd1", "conv1d", {"x": "seq"}, out_channels=2, kernel_size=2),
    _n("emb", "embedding", {"x": "ids"}, num_embeddings=5, dim=2),
    _n("ln", "layer_norm", {"x": "l1"}),
    _n("ge", "gelu", {"x": "ln"}),
    _n("spl", "softplus", {"x": "ge"}),
    _n("sqr", "sqrt", {"x": "spl"}),
    _n("ab", "abs", {"x": "ln"}),
    _n("mi", "minimum", {"a": "ab", "b": "sqr"}),
    _n("cl", "clip", {"x": "mi"}, min=-0.5, max=0.5),
    _n("dv", "divide", {"a": "cl", "b": "spl"}),
    _n("sl", "slice", {"x": "dv"}, start=1, stop=3),
    _n("s1", "sum", {"x": "tp"}),
    _n("s2", "sum", {"x": "gp"}),
    _n("s3", "sum", {"x": "cd1"}),
    _n("s4", "sum", {"x": "emb"}),
    _n("s5", "sum", {"x": "sl"}),
    _n("a1", "add", {"a": "s1", "b": "s2"}),
    _n("a2", "add", {"a": "a1", "b": "s3"}),
    _n("a3", "add", {"a": "a2", "b": "s4"}),
    _n("a4", "add", {"a": "a3", "b": "s5"}),
    _n("c11", "as_cost", {"x": "a4"}),
]


def _laid_out(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    depth: dict[str, int] = {}
    for node in nodes:  # listed in a topological order
        srcs = [ref.split(":")[0] for ref in node.get("inputs", {}).values()]
        depth[node["id"]] = 1 + max((depth[s] for s in srcs), default=-1)
    rows: dict[int, int] = {}
    out = []
    for node in nodes:
        d = depth[node["id"]]
        rows[d] = rows.get(d, 0) + 1
        out.append({**node, "ui": {"x": 200 * d, "y": 110 * rows[d]}})
    return {"version": 1, "name": "every op", "nodes": out}


def test_any_dag_with_every_op_explains_and_checks(live_server, page: Page, console_errors):
    """Every op of the registry in one DAG: each step's numbers match evaluate, every formula
    renders (no KaTeX error), and the gradient check is green."""
    url = live_server.url
    ops = {o["name"] for o in httpx.get(f"{url}/api/ops").json()}
    graph = _laid_out(EVERY_OP)
    assert ops == {n["op"] for n in graph["nodes"]}, "a new op? add it to EVERY_OP"
    open_explain(page, url, graph)
    inputs = httpx.post(f"{url}/api/explain", json={"graph": graph}).json()["inputs"]
    ev = httpx.post(f"{url}/api/evaluate", json={"graph": graph, "inputs": inputs}).json()
    keys = {n["id"]: n["id"] if n["op"] != "duplicate" else f"{n['id']}:y1" for n in graph["nodes"]}
    total = int(page.get_by_test_id("explain-step").get_attribute("data-total"))
    assert total > 2 * len(graph["nodes"]) - 10
    for position in range(1, total + 1):
        page.keyboard.press("ArrowRight")
        expect(page.get_by_test_id("explain-step")).to_have_attribute(
            "data-position", str(position)
        )
        assert page.locator(".katex-error").count() == 0, card(page)
        got = card(page)
        if got["phase"] == "forward":
            close(got["value"], ev["values"][keys[got["node"]]][0])
        elif got["phase"] == "backward" and keys[got["node"]] in ev["grads"]:
            close(got["grad"], ev["grads"][keys[got["node"]]][0])
    page.get_by_test_id("btn-gradcheck").click()
    summary = page.get_by_test_id("gradcheck-summary")
    expect(summary).to_have_attribute("data-ok", "true", timeout=SLOW)
    expect(page.get_by_test_id("gc-am")).to_have_attribute("data-ok", "na")  # argmin: no gradient
    assert console_errors == []


def test_the_notes_network_explains_too(live_server, page: Page, console_errors):
    """The notes' own network (600 inputs, 60 → 40 → 10): values match, matrices are elided."""
    url = live_server.url
    graph = httpx.get(f"{url}/api/examples/notes_network").json()["graph"]
    open_explain(page, url, graph)
    inputs = httpx.post(f"{url}/api/explain", json={"graph": graph}).json()["inputs"]
    ev = httpx.post(f"{url}/api/evaluate", json={"graph": graph, "inputs": inputs}).json()
    step_to(page, 4)  # x, y, flat, l1
    got = card(page)
    assert got["node"] == "l1"
    close(got["value"], ev["values"]["l1"][0])
    tex = (
        page.get_by_test_id("explain-forward-lines").locator("[data-tex]").get_attribute("data-tex")
    )
    assert r"\cdots" in tex and r"\vdots" in tex
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # the last backward step: dC/dx for the image
    assert card(page)["node"] == "x"
    # evaluate leaves data out of `grads`; flatten's dC/dx is dC/d(flat) reshaped
    close(card(page)["grad"], np.reshape(ev["grads"]["flat"][0], (3, 10, 20)))
    assert console_errors == []


def test_gradcheck_badges_are_green_on_every_shipped_example(
    live_server, page: Page, console_errors, screenshot
):
    url = live_server.url
    examples = httpx.get(f"{url}/api/examples").json()
    assert len(examples) >= 9
    for ex in examples:
        graph = httpx.get(f"{url}/api/examples/{ex['id']}").json()["graph"]
        open_explain(page, url, graph)
        page.get_by_test_id("btn-gradcheck").click()
        summary = page.get_by_test_id("gradcheck-summary")
        expect(summary).to_be_visible(timeout=SLOW)
        assert summary.get_attribute("data-ok") == "true", (ex["id"], summary.inner_text())
        badges = page.locator("[data-testid^='gc-']")
        oks = badges.evaluate_all("els => els.map(e => [e.dataset.testid, e.dataset.ok])")
        assert all(ok in ("true", "na") for _, ok in oks), (ex["id"], oks)
        shown = {tid[3:] for tid, _ in oks}
        params = httpx.post(f"{url}/api/explain", json={"graph": graph}).json()["state"]
        for node in graph["nodes"]:
            assert node["id"] in shown or any(s.startswith(node["id"] + ".") for s in shown), (
                ex["id"],
                node["id"],
            )
        for nid, names in params.items():
            for name in names:
                assert f"{nid}.{name}" in shown, (ex["id"], nid, name)
        if ex["id"] == "residual":
            screenshot("classroom-gradcheck-residual")
    assert console_errors == []


def test_presentation_mode_from_the_url(live_server, page: Page, console_errors, screenshot):
    url = live_server.url
    stored = store(url, TWO_LAYER)
    page.goto(f"{url}/g/{stored['id']}?present=1&hide=sample,tools&explain=1&step=3")
    expect(page.get_by_test_id("explain-step")).to_have_attribute(
        "data-position", "3", timeout=SLOW
    )
    assert "cx-present" in (page.evaluate("document.body.className") or "")
    for hidden in ("topbar", "palette", "inspector", "explain-sample", "btn-gradcheck"):
        expect(page.get_by_test_id(hidden)).to_be_hidden()
    expect(page.get_by_test_id("explain-card")).to_be_visible()
    page.keyboard.press("PageDown")
    expect(page.get_by_test_id("explain-step")).to_have_attribute("data-position", "4")
    assert card(page)["node"] == "h"
    screenshot("classroom-present")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("topbar")).to_be_visible()
    assert "present=1" not in page.url
    assert console_errors == []


def test_follow_mode_mirrors_the_teacher_and_cannot_edit(
    live_server, page: Page, browser: Browser, console_errors, screenshot
):
    url = live_server.url
    teacher = page
    open_explain(teacher, url, TWO_LAYER)
    teacher.get_by_test_id("btn-broadcast").click()
    link = teacher.get_by_test_id("broadcast-link").input_value()
    assert link.startswith(f"{url}/follow/")
    session_id = link.rsplit("/", 1)[1]

    student_ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    # the student has a draft of their own: following must leave it (and the URL) alone
    draft = {"doc": {"version": 1, "name": "mine", "nodes": []}, "graphId": "abc", "dirty": True}
    student_ctx.add_init_script(
        f"if (!localStorage.getItem('blockprop:draft')) "
        f"localStorage.setItem('blockprop:draft', {json.dumps(json.dumps(draft))})"
    )
    student = student_ctx.new_page()
    student_errors: list[str] = []
    student.on("console", lambda m: student_errors.append(m.text) if m.type == "error" else None)
    student.on("pageerror", lambda e: student_errors.append(str(e)))
    try:
        student.goto(link)
        expect(student.get_by_test_id("follow-status")).to_have_attribute(
            "data-state", "live", timeout=SLOW
        )
        expect(student.get_by_test_id("explain-card")).to_be_visible(timeout=SLOW)
        expect(student.locator(".react-flow__node")).to_have_count(6)

        # each of the teacher's steps reaches the student (how soon: tests/bench/bench_followers.py)
        s_counter = student.get_by_test_id("explain-step")
        for position in range(1, 9):
            teacher.keyboard.press("ArrowRight")
            expect(s_counter).to_have_attribute("data-position", str(position), timeout=SLOW)
        assert card(student)["node"] == card(teacher)["node"] == "l2"
        assert card(student)["phase"] == "backward"
        close(card(student)["grad"], card(teacher)["grad"])
        screenshot("classroom-follow-teacher")
        student.screenshot(path=str(_artifact("classroom-follow-student")), full_page=True)

        assert student.url == link
        kept = json.loads(student.evaluate("localStorage.getItem('blockprop:draft')"))
        assert kept == draft

        # the student cannot change the teacher's graph: nothing in the page edits it ...
        expect(student.get_by_test_id("palette")).to_have_count(0)
        expect(student.get_by_test_id("explain-next")).to_be_disabled()
        node = student.locator(".react-flow__node[data-id='l1']")
        before = node.bounding_box()
        assert before is not None
        student.mouse.move(before["x"] + 20, before["y"] + 20)
        student.mouse.down()
        student.mouse.move(before["x"] + 180, before["y"] + 140, steps=6)
        student.mouse.up()
        student.mouse.click(before["x"] + 20, before["y"] + 20)  # nodes take no pointer events
        student.keyboard.press("Delete")
        student.keyboard.press("ArrowRight")  # and cannot step the teacher either
        expect(student.locator(".react-flow__node")).to_have_count(6)
        assert student.get_by_test_id("explain-step").get_attribute("data-position") == "8"
        # ... and the server refuses changes without the session's edit token
        r = student.request.patch(
            f"{url}/api/sessions/{session_id}",
            data=json.dumps({"graph": {"version": 1, "nodes": []}}),
            headers={"Content-Type": "application/json", "Origin": url},
        )
        assert r.status == 403
        r = student.request.patch(
            f"{url}/api/sessions/{session_id}",
            data=json.dumps({"view": {}}),
            headers={"Content-Type": "application/json", "X-Edit-Token": "guess", "Origin": url},
        )
        assert r.status == 403
        session = httpx.get(f"{url}/api/sessions/{session_id}").json()
        assert len(session["graph"]["nodes"]) == 6 and session["view"]["explain"]["step"] == 8
        assert session["followers"] >= 1

        # the teacher's run is watched too (read-only): train on the dock's 2-D dataset
        teacher.get_by_test_id("btn-train-play").click()
        expect(student.get_by_test_id("follow-run")).to_be_visible(timeout=SLOW)
        expect(student.get_by_test_id("follow-run")).to_have_attribute(
            "data-status", re.compile("running|paused|done|stopped"), timeout=SLOW
        )
        with contextlib.suppress(PlaywrightError):  # the short run may be done already
            teacher.get_by_test_id("btn-train-stop").click(timeout=1000)
        student.screenshot(path=str(_artifact("classroom-follow-run")), full_page=True)

        # the teacher's edits reach the student too
        teacher.get_by_test_id("explain-close").click()
        teacher.locator(".react-flow__node[data-id='h']").click()
        teacher.keyboard.press("Delete")
        expect(student.locator(".react-flow__node")).to_have_count(5, timeout=3000)

        # the student forks an editable copy of their own
        student.get_by_test_id("btn-fork").click()
        student.wait_for_url(f"{url}/g/**", timeout=SLOW)
        expect(student.get_by_test_id("palette")).to_be_visible(timeout=SLOW)
        expect(student.locator(".react-flow__node")).to_have_count(5)
        assert httpx.get(f"{url}/api/sessions/{session_id}").json()["graph"]["nodes"]
        assert student_errors == []
    finally:
        student_ctx.close()
    assert console_errors == []


def _run_status(page: Page) -> dict[str, str]:
    return page.get_by_test_id("run-status").evaluate("e => ({...e.dataset})")


def _stop_page_runs(page: Page, url: str) -> None:
    with contextlib.suppress(Exception):
        tokens = page.evaluate(
            """() => Object.keys(localStorage).filter(k => k.startsWith('blockprop:runtoken:'))
                 .map(k => [k.slice(19), localStorage.getItem(k)])"""
        )
        for rid, token in tokens:
            httpx.post(
                f"{url}/api/runs/{rid}/stop",
                headers={"X-Edit-Token": token, "Origin": url},
                timeout=5,
            )


def test_explain_with_the_weights_trained_in_the_dock(
    live_server, page: Page, browser: Browser, console_errors, screenshot
):
    """Train the spiral example briefly in the dock, then explain: trained weights at the
    run's step by default, a dataset row normalised like the run's data, every number equal to
    POST /api/explain with that run_id (and unlike the seed's); a follower sees the same."""
    from blockprop.examples import get_example

    url = live_server.url
    page.on("dialog", lambda d: d.accept())
    page.goto(url + "/")
    expect(page.get_by_test_id("empty-hint")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("btn-examples").click()
    page.get_by_test_id("example-spiral").click()
    expect(page.locator(".react-flow__node").first).to_be_visible(timeout=SLOW)
    try:
        page.get_by_test_id("train-tab-settings").click()
        page.get_by_test_id("train-epochs").fill("20")
        page.get_by_test_id("train-epochs").press("Enter")
        page.get_by_test_id("btn-train-play").click()
        deadline = time.monotonic() + 60
        while True:
            st = _run_status(page)
            if st.get("status") == "done" and st.get("metricsStep") == st.get("step"):
                break
            assert time.monotonic() < deadline, f"the run did not finish: {st}"
            page.wait_for_timeout(100)
        step = int(st["step"])
        rid = re.search(r"[?&]run=([^&]+)", page.url).group(1)
        assert step > 0

        page.get_by_test_id("btn-explain").click()
        weights = page.get_by_test_id("explain-card-weights")
        expect(weights).to_have_attribute("data-run", rid, timeout=SLOW)
        expect(weights).to_have_attribute("data-step", str(step))
        expect(weights).to_contain_text(f"trained weights of run {rid[:6]} at step {step}")
        expect(page.get_by_test_id("explain-weights")).to_have_value("trained")

        # a row of the dataset, raw as in the dataset
        page.get_by_test_id("explain-source").select_option("spiral")
        page.evaluate("() => document.activeElement?.blur()")  # the arrow keys step again
        expect(page.get_by_test_id("explain-row")).to_contain_text("row 1 of")
        rows = httpx.get(
            f"{url}/api/datasets/spiral", params={"limit": 200, "normalize": "false"}, timeout=10
        ).json()
        sample = {"x": [rows["x"][0]], "y": [rows["y"][0]]}
        expect(page.get_by_test_id("explain-input-x")).to_have_value(
            ", ".join(fmt(v) for v in rows["x"][0]), timeout=SLOW
        )
        doc = get_example("spiral")["graph"]
        body = {"graph": doc, "inputs": sample}
        want = httpx.post(f"{url}/api/explain", json={**body, "run_id": rid}, timeout=10).json()
        seeded = httpx.post(f"{url}/api/explain", json=body, timeout=10).json()
        assert want["run"]["step"] == step and set(want["run"]["normalized"]) == {"x"}
        assert abs(want["loss"] - seeded["loss"]) > 1e-6

        by_id = {n["id"]: n for n in want["nodes"]}
        for i, nid in enumerate(want["order"]):
            step_to(page, i + 1)
            c = card(page)
            assert (c["phase"], c["node"]) == ("forward", nid)
            close(c["value"], by_id[nid]["outputs"][0]["value"])
            if nid == "x":  # the input's card: the raw row normalised like the run's data
                note = page.get_by_test_id("explain-normalized")
                close(
                    json.loads(note.get_attribute("data-mean")),
                    want["run"]["normalized"]["x"]["mean"],
                )
                close(
                    json.loads(note.get_attribute("data-std")),
                    want["run"]["normalized"]["x"]["std"],
                )
                screenshot("classroom-trained-input")
        loss = page.get_by_test_id("explain-loss")
        assert float(loss.get_attribute("data-value")) == pytest.approx(want["loss"], rel=1e-9)
        # backward too: dC/d(output) at every node
        n = len(want["order"])
        total = int(page.get_by_test_id("explain-step").get_attribute("data-total"))
        for pos in range(n + 1, total + 1):
            step_to(page, pos)
            c = card(page)
            if c["phase"] != "backward":
                break
            close(c["grad"], by_id[c["node"]]["outputs"][0]["grad"])

        # a follower sees the same numbers: the run and its step travel with the position
        page.get_by_test_id("btn-broadcast").click()
        link = page.get_by_test_id("broadcast-link").input_value()
        student_ctx = browser.new_context(viewport={"width": 1280, "height": 860})
        student = student_ctx.new_page()
        student_errors: list[str] = []
        student.on(
            "console", lambda m: student_errors.append(m.text) if m.type == "error" else None
        )
        student.on("pageerror", lambda e: student_errors.append(str(e)))
        try:
            student.goto(link)
            sw = student.get_by_test_id("explain-card-weights")
            page.keyboard.press("Home")
            expect(sw).to_have_attribute("data-step", str(step), timeout=SLOW)
            expect(sw).to_have_attribute("data-run", rid)
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            expect(student.get_by_test_id("explain-step")).to_have_attribute(
                "data-position", "3", timeout=SLOW
            )
            nid = want["order"][2]
            sc = student.get_by_test_id("explain-card")
            expect(sc).to_have_attribute("data-node", nid)
            close(json.loads(sc.get_attribute("data-value")), by_id[nid]["outputs"][0]["value"])
            assert student_errors == []
        finally:
            student_ctx.close()

        # back to the initial weights: the seed's numbers
        page.keyboard.press("Home")
        page.get_by_test_id("explain-weights").select_option("initial")
        page.evaluate("() => document.activeElement?.blur()")
        expect(weights).to_contain_text("initial weights (seed 0)", timeout=SLOW)
        step_to(page, n)
        loss = page.get_by_test_id("explain-loss")
        assert float(loss.get_attribute("data-value")) == pytest.approx(seeded["loss"], rel=1e-9)
        assert console_errors == []
    finally:
        _stop_page_runs(page, url)


def _artifact(name: str):
    # the screenshot fixture's folder; computed here since `conftest` is ambiguous to import
    folder = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"
