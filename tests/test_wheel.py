"""The wheel carries the app: built from this checkout, installed with its dependencies into a
fresh venv outside the checkout, `blockprop serve` shows the editor in a real Chromium.

This is what `pip install blockprop-*.whl` then `blockprop serve` gives a user (and what the
Docker image does), not the "frontend is not built" page. Dependencies come from the package
index (pip's cache makes them quick): without it this test fails, it does not skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from chromium import LAUNCH_ARGS, find_chromium  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything pointing back at the checkout or its venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("BLOCKPROP_")
    }
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _run(cmd: list[str | Path], cwd: Path, timeout: float) -> str:
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _serve(venv_bin: Path, cwd: Path) -> tuple[subprocess.Popen, str]:
    log_path = cwd / "server.log"
    log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(venv_bin / "blockprop"), "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=cwd,
        env=_clean_env(BLOCKPROP_WORKERS="1"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}): {log_path.read_text()}")
        found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log_path.read_text())
        if found:
            url = f"http://127.0.0.1:{found.group(1)}"
            try:
                if httpx.get(url + "/api/health", timeout=1).is_success:
                    return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not answer within 60 s: {log_path.read_text()}")


def _copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked or not ignored) and its built frontend, times kept, in
    `dest`: the wheel is built from them as they are, but never from a stale in-tree build/
    (which would hide a missing build hook) nor racing another build there."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src = REPO / name
        if src.is_file() and not src.is_symlink():  # not .venv or node_modules links
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    if (REPO / "frontend" / "dist").is_dir():
        shutil.copytree(REPO / "frontend" / "dist", dest / "frontend" / "dist")
    if (REPO / "frontend" / "node_modules").is_dir():  # only used if dist is stale
        (dest / "frontend" / "node_modules").symlink_to(REPO / "frontend" / "node_modules")
    return dest


def test_installed_wheel_serves_the_editor(tmp_path):
    # Build the wheel from the checkout's files; its build hook packages the frontend.
    source = _copy_checkout(tmp_path / "source")
    wheelhouse = tmp_path / "wheelhouse"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", wheelhouse, source],
        cwd=tmp_path,
        timeout=150,
    )
    (wheel,) = wheelhouse.glob("blockprop-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "blockprop/static/index.html" in names
    assert any(re.fullmatch(r"blockprop/static/assets/index-.*\.js", n) for n in names)

    # A fresh venv outside the checkout (no system site-packages), the wheel and its deps.
    home = tmp_path / "elsewhere"
    home.mkdir()
    venv.create(home / "venv", with_pip=True, system_site_packages=False)
    bin_ = home / "venv" / "bin"
    _run([bin_ / "python", "-m", "pip", "install", "-q", wheel], cwd=home, timeout=150)
    where = _run(
        [
            bin_ / "python",
            "-c",
            "import blockprop, blockprop.settings as s; print(blockprop.__file__); "
            "print(s.get_settings().static_dir)",
        ],
        cwd=home,
        timeout=60,
    ).split()
    site = (home / "venv").resolve()
    assert all(Path(p).resolve().is_relative_to(site) for p in where), where

    proc, url = _serve(bin_, home)
    try:
        index = httpx.get(url + "/", timeout=10)
        assert index.status_code == 200, index.text
        assert "not built" not in index.text

        path = find_chromium()
        if path is None:
            pytest.fail("no Chromium found: run `python tests/e2e/chromium.py` (make test does)")
        # A Playwright of our own, closed before the browser tests (which run last) start theirs.
        with sync_playwright() as pw:
            browser = pw.chromium.launch(args=LAUNCH_ARGS, executable_path=path or None)
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url + "/")
                expect(page).to_have_title("Blockprop")
                expect(page.locator(".react-flow")).to_be_visible(timeout=30_000)
                # The palette is built from GET /api/ops: the installed API answers the UI.
                expect(page.get_by_test_id("palette-input")).to_be_visible(timeout=30_000)
                assert errors == []
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
