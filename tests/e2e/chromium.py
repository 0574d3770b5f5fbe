"""Find a Chromium for Playwright on any machine, installing one when we may.

Order: $BLOCKPROP_CHROMIUM, the system's /usr/lib/chromium/chromium or /usr/bin/chromium,
then (as root with apt-get) Debian's `chromium` package, else `playwright install chromium`
(Playwright's own browser, used through its default lookup).

`python tests/e2e/chromium.py` ensures one and prints its path ("" = Playwright's own).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SYSTEM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
# The flags the browser tests (tests/e2e/conftest.py) and tests/bench/bench_page.py launch with.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """The path of a usable Chromium, "" when Playwright's bundled one is installed, or None."""
    env = os.environ.get("BLOCKPROP_CHROMIUM")
    if env is not None and (env == "" or Path(env).is_file()):
        return env
    for path in SYSTEM_PATHS:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    if _playwright_has_own_browser():
        return ""
    return None


def _playwright_has_own_browser() -> bool:
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache/ms-playwright"))
    return any(cache.glob("chromium*/chrome-linux*/chrome")) if cache.is_dir() else False


def _say(msg: str) -> None:
    print(f"[chromium] {msg}", file=sys.stderr, flush=True)


def ensure_chromium() -> str:
    found = find_chromium()
    if found is not None:
        _say(f"using {found or 'Playwright’s own Chromium'}")
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _say("no Chromium found; installing Debian's chromium package (apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
    else:
        _say("no Chromium found; running `playwright install chromium`")
        subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=False)
    found = find_chromium()
    if found is None:
        sys.exit("[chromium] could not find or install a Chromium for the browser tests")
    _say(f"using {found or 'Playwright’s own Chromium'}")
    return found


if __name__ == "__main__":
    print(ensure_chromium())


def launch(pw, **kw):
    """Chromium through Playwright with the flags above: this machine's, else Playwright's."""
    path = find_chromium()
    return pw.chromium.launch(args=LAUNCH_ARGS, executable_path=path or None, **kw)
