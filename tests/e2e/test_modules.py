"""Modules in the editor, in a real Chromium against a real server: select blocks, Make
block, the module block is wired in their place and the server validates the graph; expand
and collapse it in place, editing its blocks there; edit the module and the graph (every
instance) follows; unpack an instance back into plain blocks."""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError
from test_editor import (  # noqa: F401 - editor, dialogs: fixtures
    SLOW,
    dialogs,
    edge_label,
    editor,
    expect_status,
    export_doc,
    import_doc,
    set_param,
    wire,
)

MLP = {
    "version": 1,
    "name": "mlp",
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}, "ui": {"x": 0, "y": 0}},
        {
            "id": "y",
            "op": "target",
            "params": {"shape": [], "dtype": "int"},
            "ui": {"x": 0, "y": 220},
        },
        {
            "id": "l1",
            "op": "linear",
            "params": {"out_features": 4},
            "inputs": {"x": "x"},
            "ui": {"x": 220, "y": 0},
        },
        {"id": "r1", "op": "relu", "inputs": {"x": "l1"}, "ui": {"x": 440, "y": 0}},
        {
            "id": "l2",
            "op": "linear",
            "params": {"out_features": 2},
            "inputs": {"x": "r1"},
            "ui": {"x": 660, "y": 0},
        },
        {
            "id": "c",
            "op": "cross_entropy",
            "inputs": {"logits": "l2", "target": "y"},
            "ui": {"x": 880, "y": 110},
        },
    ],
}


def test_make_block_expand_and_edit_the_module(
    editor: Page,  # noqa: F811 - the fixture imported above
    console_errors,
    tmp_path,
    screenshot,
):
    page = editor
    import_doc(page, MLP, tmp_path)
    expect_status(page, "valid")

    page.get_by_test_id("node-l1").click()
    page.get_by_test_id("node-r1").click(modifiers=["Control"])
    page.get_by_test_id("btn-make-block").click()
    expect(page.get_by_test_id("node-block1")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("node-l1")).to_have_count(0)
    expect(page.get_by_test_id("port-block1-in-x")).to_be_attached()
    expect(page.get_by_test_id("port-block1-out-y")).to_be_attached()
    expect_status(page, "valid")  # the server validated the graph with its module
    assert edge_label(page, "e-l2-x") == "[4]"  # the block's output, from its inner relu
    doc = export_doc(page)
    assert doc["modules"]["block"]["outputs"] == {"y": "r1"}
    inst = next(n for n in doc["nodes"] if n["id"] == "block1")
    assert inst["op"] == "module" and inst["params"] == {"module": "block"}
    assert next(n for n in doc["nodes"] if n["id"] == "l2")["inputs"] == {"x": "block1"}

    page.get_by_test_id("expand-block1").click()
    expect(page.get_by_test_id("node-block1/l1")).to_be_visible()
    expect(page.get_by_test_id("node-block1/r1")).to_be_visible()
    screenshot("modules-expanded")
    page.get_by_test_id("expand-block1").click()
    expect(page.get_by_test_id("node-block1/l1")).to_have_count(0)

    page.get_by_test_id("node-block1").dblclick()
    expect(page.get_by_test_id("module-banner")).to_contain_text("block")
    expect(page.get_by_test_id("node-l1")).to_be_visible(timeout=SLOW)
    set_param(page, "l1", "out_features", "8")
    expect_status(page, "valid")  # mid-edit, the whole graph is what the server checks
    screenshot("modules-editing")
    page.get_by_test_id("leave-module").click()
    expect(page.get_by_test_id("module-banner")).to_have_count(0)
    expect(page.get_by_test_id("node-block1")).to_be_visible()
    expect_status(page, "valid")
    doc = export_doc(page)
    assert doc["modules"]["block"]["nodes"][0]["params"]["out_features"] == 8
    assert console_errors == []


def test_explain_steps_over_and_into_the_module_blocks(
    live_server, page: Page, console_errors, screenshot
):
    """The classroom walk takes each instance as one block (stepped over, the default): its card
    shows the block's VJP, the backend's ``blocks[...]["vjps"]``; Step into (↓) walks its inner
    nodes (flat ids b2/l...), whose VJPs to the block's input add up to that same number, and
    comes out after the last one; Step out takes it whole again."""
    import httpx
    from test_accessibility import assert_clean

    from blockprop.examples import get_example

    graph = get_example("residual_modules")["graph"]
    stored = httpx.post(f"{live_server.url}/api/graphs", json={"graph": graph}).json()
    page.goto(f"{live_server.url}/g/{stored['id']}")
    expect_status(page, "valid")
    page.get_by_test_id("btn-explain").click()
    card = page.get_by_test_id("explain-card")
    expect(card).to_have_attribute("data-phase", "start", timeout=SLOW)
    # the same sample and initial weights as the panel: the default feeds, seed 0
    answer = httpx.post(f"{live_server.url}/api/explain", json={"graph": graph, "seed": 0}).json()
    blocks = {b["id"]: b for b in answer["blocks"]}

    counter = page.get_by_test_id("explain-step")

    def walk_to(phase: str, node: str) -> None:
        """→ until the card is that step, each press waited for (the counter moves on)."""
        for _ in range(40):
            if (card.get_attribute("data-phase"), card.get_attribute("data-node")) == (phase, node):
                return
            at = int(counter.get_attribute("data-position") or 0)
            page.keyboard.press("ArrowRight")
            expect(counter).to_have_attribute("data-position", str(at + 1))
        raise AssertionError(f"the walk never reached {phase} {node}")

    # forward: b1 is one step, the module as one block; its ring marks the whole block
    walk_to("forward", "b1")
    expect(card).to_have_attribute("data-module", "residual")
    expect(page.get_by_test_id("explain-ring-b1")).to_have_attribute("data-whole", "true")
    expect(page.get_by_test_id("explain-value-b1/s")).to_be_visible()  # its output's value
    expect(page.get_by_test_id("explain-announce")).to_contain_text("b1 (module residual)")
    assert_clean(page, "the block's card")
    screenshot("modules-explain-block")
    # ↓ steps into the instance ahead (b2): its inner nodes one by one, then out to b3
    expect(page.get_by_test_id("explain-step-into")).to_have_attribute("data-block", "b2")
    page.keyboard.press("ArrowDown")
    expect(card).to_have_attribute("data-node", "b2/l")
    expect(page.get_by_test_id("explain-inside")).to_have_text("inside b2 (module residual)")
    page.keyboard.press("ArrowRight")
    expect(card).to_have_attribute("data-node", "b2/r")
    expect(page.get_by_test_id("explain-ring-b2")).to_have_attribute("data-whole", "false")
    expect(page.get_by_test_id("explain-value-b2/s")).to_have_count(0)  # not yet
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(card).to_have_attribute("data-node", "b3")  # out, after the last inner node

    # backward: b1's card shows the block's VJP, as the backend computes it
    walk_to("backward", "b2")
    vjps = json.loads(card.get_attribute("data-vjps") or "{}")
    assert vjps == blocks["b2"]["vjps"]
    lines = page.get_by_test_id("explain-block-vjps").locator("li")
    assert json.loads(lines.last.get_attribute("data-value") or "null") == blocks["b2"]["vjps"]["h"]
    # step into b2 from b3's step (Step into opens the instance ahead)
    page.keyboard.press("ArrowLeft")
    page.get_by_test_id("explain-step-into").click()
    expect(page.get_by_test_id("explain-inside")).to_have_text("inside b2 (module residual)")
    screenshot("modules-explain-inside")
    assert_clean(page, "inside a block, backward")
    key = blocks["b2"]["inputs"]["h"]["key"]  # b1/s, what b2 reads
    total = [0.0] * len(blocks["b2"]["vjps"]["h"])
    for node in ("b2/s", "b2/r", "b2/l"):
        expect(card).to_have_attribute("data-node", node)
        for li in page.get_by_test_id("explain-rules").locator("li").all():
            if li.locator(".cx-line-label").inner_text().startswith(f"to {key} "):
                part = json.loads(li.get_attribute("data-value") or "null")
                total = [t + p for t, p in zip(total, part, strict=True)]
        page.keyboard.press("ArrowRight")
    assert total == pytest.approx(blocks["b2"]["vjps"]["h"], rel=1e-9, abs=1e-12)
    expect(card).to_have_attribute("data-node", "b1")  # out again: b1 is one step
    assert json.loads(card.get_attribute("data-vjps") or "{}") == blocks["b1"]["vjps"]
    screenshot("modules-explain-block-vjp")
    assert_clean(page, "the block's VJP card")
    # Step out: back inside b2, ↑ takes it whole again, at its step
    page.keyboard.press("ArrowLeft")
    expect(card).to_have_attribute("data-node", "b2/l")
    page.keyboard.press("ArrowUp")
    expect(card).to_have_attribute("data-node", "b2")
    expect(card).to_have_attribute("data-phase", "backward")
    page.keyboard.press("End")
    expect(page.get_by_test_id("explain-grad-b1/s")).to_be_visible()  # its output's dC/dz
    assert console_errors == []


# x → b1 → b2 → l2 → c ← y: two instances of one module, a linear and a relu.
TWO = {
    "version": 1,
    "name": "two blocks",
    "modules": {
        "block": {
            "inputs": ["x"],
            "outputs": {"y": "r"},
            "nodes": [
                {
                    "id": "l",
                    "op": "linear",
                    "params": {"out_features": 4},
                    "inputs": {"x": "x"},
                    "ui": {"x": 220, "y": 40},
                },
                {"id": "r", "op": "relu", "inputs": {"x": "l"}, "ui": {"x": 440, "y": 40}},
            ],
        }
    },
    "nodes": [
        {"id": "x", "op": "input", "params": {"shape": [2]}, "ui": {"x": 0, "y": 0}},
        {
            "id": "y",
            "op": "target",
            "params": {"shape": [], "dtype": "int"},
            "ui": {"x": 0, "y": 420},
        },
        {
            "id": "b1",
            "op": "module",
            "params": {"module": "block"},
            "inputs": {"x": "x"},
            "ui": {"x": 220, "y": 0},
        },
        {
            "id": "b2",
            "op": "module",
            "params": {"module": "block"},
            "inputs": {"x": "b1"},
            "ui": {"x": 220, "y": 420},
        },
        {
            "id": "l2",
            "op": "linear",
            "params": {"out_features": 2},
            "inputs": {"x": "b2"},
            "ui": {"x": 520, "y": 420},
        },
        {
            "id": "c",
            "op": "cross_entropy",
            "inputs": {"logits": "l2", "target": "y"},
            "ui": {"x": 760, "y": 420},
        },
    ],
}


def test_expanded_block_is_edited_in_place_and_unpacked(
    editor: Page,  # noqa: F811 - the fixture imported above
    console_errors,
    tmp_path,
    screenshot,
):
    page = editor
    import_doc(page, TWO, tmp_path)
    expect_status(page, "valid")

    # open in place: the module's blocks are real nodes of the canvas, wired, named b1/l
    page.get_by_test_id("expand-b1").click()
    expect(page.get_by_test_id("node-b1/l")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("node-b1/r")).to_be_visible()
    inner = page.locator('.react-flow__node[data-id="b1/l"]')
    expect(inner).to_have_attribute("tabindex", "0")  # focusable like every node
    expect(inner).to_have_attribute("aria-label", "Linear b1/l")
    assert edge_label(page, "e-b1/r-x") == "[4]"  # the flat graph's shape of b1/l

    # a param edited in place changes the module: the other instance follows
    set_param(page, "b1/l", "out_features", "8")
    expect_status(page, "valid")
    assert edge_label(page, "e-b1/r-x") == "[8]"
    page.get_by_test_id("expand-b2").click()
    expect(page.get_by_test_id("node-b2/l")).to_contain_text("out_features=8", timeout=SLOW)
    screenshot("modules-expanded-in-place")
    page.get_by_test_id("expand-b2").click()
    expect(page.get_by_test_id("node-b2/l")).to_have_count(0)
    doc = export_doc(page)
    assert [n["id"] for n in doc["nodes"]] == ["x", "y", "b1", "b2", "l2", "c"]
    assert doc["modules"]["block"]["nodes"][0]["params"] == {"out_features": 8}

    # a block dropped from the palette into the open instance joins the module; undo takes it out
    group = page.locator('.react-flow__node[data-id="b1"]').bounding_box()
    canvas = page.get_by_test_id("canvas").bounding_box()
    inner_box = page.locator('.react-flow__node[data-id="b1/l"]').bounding_box()
    x = inner_box["x"] + inner_box["width"] / 2 - canvas["x"]
    y = group["y"] + group["height"] - 30 - canvas["y"]
    assert y > inner_box["y"] + inner_box["height"] - canvas["y"], "no room under the blocks"
    page.get_by_test_id("palette-relu").drag_to(
        page.get_by_test_id("canvas"), target_position={"x": x, "y": y}
    )
    expect(page.get_by_test_id("node-b1/relu1")).to_be_visible(timeout=SLOW)
    assert [n["id"] for n in export_doc(page)["modules"]["block"]["nodes"]] == ["l", "r", "relu1"]
    page.get_by_test_id("btn-undo").click()
    expect(page.get_by_test_id("node-b1/relu1")).to_have_count(0)
    assert [n["id"] for n in export_doc(page)["modules"]["block"]["nodes"]] == ["l", "r"]

    # a wire drawn inside: the relu reads the module input straight; Delete on the linear
    wire(page, "b1/x:x", "b1/r:x")
    expect(page.get_by_test_id("rf__edge-e-b1/r-x")).to_have_attribute(
        "aria-label", re.compile("b1/x"), timeout=SLOW
    )
    page.get_by_test_id("node-b1/l").click()
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("node-b1/l")).to_have_count(0)
    block = export_doc(page)["modules"]["block"]
    assert [(n["id"], n.get("inputs")) for n in block["nodes"]] == [("r", {"x": "x"})]
    page.get_by_test_id("btn-undo").click()
    page.get_by_test_id("btn-undo").click()
    expect(page.get_by_test_id("node-b1/l")).to_be_visible()
    block = export_doc(page)["modules"]["block"]
    assert [(n["id"], n.get("inputs")) for n in block["nodes"]] == [
        ("l", {"x": "x"}),
        ("r", {"x": "l"}),
    ]

    # training: the open instance's blocks show their own live values (flat ids b1/l)
    page.get_by_test_id("btn-train-play").click()
    expect(page.get_by_test_id("node-live-b1/l")).to_be_visible(timeout=SLOW)
    with contextlib.suppress(PlaywrightError):  # a short run may be done already
        page.get_by_test_id("btn-train-stop").click(timeout=2000)

    # collapse, then unpack b2 (Ctrl+Shift+G): plain blocks wired as the instance was
    page.get_by_test_id("expand-b1").click()
    expect(page.get_by_test_id("node-b1/l")).to_have_count(0)
    page.get_by_test_id("node-b2").click()
    page.keyboard.press("Control+Shift+G")
    expect(page.get_by_test_id("node-b2")).to_have_count(0)
    expect(page.get_by_test_id("node-l")).to_be_visible()
    expect_status(page, "valid")
    doc = export_doc(page)
    byid = {n["id"]: n for n in doc["nodes"]}
    assert byid["l"]["inputs"] == {"x": "b1"} and byid["l2"]["inputs"] == {"x": "r"}
    assert byid["l"]["params"] == {"out_features": 8}
    assert "block" in doc["modules"]  # b1 still uses it
    assert console_errors == []


def test_a_follower_walks_the_teachers_steps_into_blocks(
    live_server, page: Page, browser: Browser, console_errors
):
    """The teacher's choices of step into / over travel with the position: the student's card is
    the teacher's, a whole block or an inner node; ↓ and ↑ work in presentation mode too."""
    import httpx

    from blockprop.examples import get_example

    graph = get_example("residual_modules")["graph"]
    stored = httpx.post(f"{live_server.url}/api/graphs", json={"graph": graph}).json()
    teacher = page
    teacher.goto(f"{live_server.url}/g/{stored['id']}")
    expect_status(teacher, "valid")
    teacher.get_by_test_id("btn-explain").click()
    t_card = teacher.get_by_test_id("explain-card")
    expect(t_card).to_have_attribute("data-phase", "start", timeout=SLOW)
    teacher.get_by_test_id("btn-broadcast").click()
    link = teacher.get_by_test_id("broadcast-link").input_value()
    student = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    try:
        student.goto(link)
        s_card = student.get_by_test_id("explain-card")
        expect(s_card).to_be_visible(timeout=SLOW)
        expect(student.get_by_test_id("explain-step-into")).to_be_disabled()  # not theirs
        teacher.keyboard.press("p")  # presentation mode: the keys still step
        expect(teacher.locator("body.cx-present")).to_have_count(1)
        for _ in range(4):  # x, y, l0, then b1 as one block
            teacher.keyboard.press("ArrowRight")
        expect(t_card).to_have_attribute("data-node", "b1")
        expect(s_card).to_have_attribute("data-node", "b1", timeout=SLOW)
        expect(s_card).to_have_attribute("data-module", "residual")
        teacher.keyboard.press("ArrowDown")  # into b2, ahead
        expect(s_card).to_have_attribute("data-node", "b2/l", timeout=SLOW)
        expect(student.get_by_test_id("explain-inside")).to_have_text("inside b2 (module residual)")
        s_counter = student.get_by_test_id("explain-step")
        t_counter = teacher.get_by_test_id("explain-step")
        expect(s_counter).to_have_attribute("data-total", t_counter.get_attribute("data-total"))
        teacher.keyboard.press("ArrowUp")  # out: b2 whole again
        expect(s_card).to_have_attribute("data-node", "b2", timeout=SLOW)
        expect(s_counter).to_have_attribute("data-position", "5")
    finally:
        student.context.close()
    assert console_errors == []
