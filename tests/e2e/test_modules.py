"""Modules in the editor, in a real Chromium against a real server: select blocks, Make
block, the module block is wired in their place and the server validates the graph; expand
and collapse it in place, editing its blocks there; edit the module and the graph (every
instance) follows; unpack an instance back into plain blocks."""

from __future__ import annotations

import contextlib
import re

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
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


def test_explain_steps_into_the_module_blocks(live_server, page: Page, console_errors):
    """The classroom walk goes through each instance's inner nodes (flat ids b1/l...)."""
    import httpx

    from blockprop.examples import get_example

    graph = get_example("residual_modules")["graph"]
    stored = httpx.post(f"{live_server.url}/api/graphs", json={"graph": graph}).json()
    page.goto(f"{live_server.url}/g/{stored['id']}")
    expect_status(page, "valid")
    page.get_by_test_id("btn-explain").click()
    card = page.get_by_test_id("explain-card")
    expect(card).to_have_attribute("data-phase", "start", timeout=SLOW)
    counter = page.get_by_test_id("explain-step")
    total = int(counter.get_attribute("data-total") or 0)
    assert total >= 2 * 14  # forward and backward over the 14 nodes of the flat graph
    seen = set()
    for _ in range(total):
        page.keyboard.press("ArrowRight")
        node = card.get_attribute("data-node")
        if node == "b2/r" and node not in seen:  # the walk is inside b2: its block is ringed
            expect(page.get_by_test_id("explain-ring-b2")).to_be_attached()
            expect(page.get_by_test_id("explain-value-b2/s")).to_have_count(0)  # not yet
        seen.add(node)
    assert {"b1/l", "b2/r", "b3/s"} <= seen
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
