"""Build hook: every wheel carries the built frontend, as `blockprop/static/`.

Metadata lives in pyproject.toml; this file only extends setuptools' `build_py`, so that
`pip wheel .`, `pip install .` and `make dist` all produce a package that serves its UI
wherever it is installed (like TensorBoard or Gradio). The copy is written into the build
directory, never into backend/blockprop/, so a checkout never holds a stale packaged copy.

- In a checkout, frontend/dist is rebuilt first (`npm run build`, after `npm ci` when
  frontend/node_modules is missing) when it is missing or older than a frontend source.
- Where only frontend/dist is present (the Docker build stage copies just that), it is used
  as it is.
- Where neither is, the build fails: a wheel without its UI is the bug this hook prevents.
- Editable installs (`pip install -e .`, `make run`) are left alone: they serve frontend/dist
  from the checkout (see `DEFAULT_STATIC_DIR` in backend/blockprop/settings.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
FRONTEND = ROOT / "frontend"
DIST = FRONTEND / "dist"
SOURCES = (
    "src",
    "public",
    "index.html",
    "vite.config.ts",
    "tsconfig.json",
    "package.json",
    "package-lock.json",
)


def _source_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = FRONTEND / name
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
    return files


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "blockprop: building the wheel needs the frontend: install Node.js (npm) or build "
            "frontend/dist first (`cd frontend && npm ci && npm run build`)"
        )
    print(f"blockprop: npm {' '.join(args)} in {FRONTEND}", flush=True)
    subprocess.run([npm, *args], cwd=FRONTEND, check=True)


def built_frontend() -> Path:
    """frontend/dist, built first when it is missing or older than a source."""
    sources = _source_files()
    index = DIST / "index.html"
    if sources:
        built = index.stat().st_mtime if index.is_file() else 0.0
        if any(p.stat().st_mtime > built for p in sources):
            if not (FRONTEND / "node_modules").is_dir():
                _npm("ci", "--no-audit", "--no-fund")
            _npm("run", "build")
    if not index.is_file():
        raise SystemExit(f"blockprop: no built frontend at {DIST} and no sources to build it")
    return DIST


class BuildPyWithFrontend(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "blockprop" / "static"
        if target.exists():  # a previous build's assets (hashed names) must not linger
            shutil.rmtree(target)
        shutil.copytree(built_frontend(), target)


setup(cmdclass={"build_py": BuildPyWithFrontend})
