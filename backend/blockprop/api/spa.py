"""Serve the built single-page frontend at `/`, falling back to index.html for client routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from blockprop.api.errors import SPA_ROUTE, method_not_allowed

_MISSING = """<!doctype html><title>Blockprop</title>
<p>The frontend is not built. Run <code>make run</code> (or <code>npm run build</code> in
<code>frontend/</code>).</p>"""


def _static_file(root: Path, path: str) -> Path | None:
    """The file under `root` that `path` names, if any. Resolved and checked for containment
    so no client path escapes the static folder; a path no file system can hold (a NUL byte,
    a name too long) names nothing."""
    try:
        candidate = (root / path).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    except (OSError, ValueError):
        return None
    return None


def mount_spa(app: FastAPI, static_dir: Path) -> None:
    root = static_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False, name=SPA_ROUTE)
    def spa(path: str, request: Request):
        if path.startswith("api/"):  # GET on an API path that has other methods: 405, else 404
            return method_not_allowed(request)
        if "\x00" in path:  # never a file, nor a client route
            raise HTTPException(status_code=404, detail="no such file")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_MISSING, status_code=503)
        found = _static_file(root, path) if path else None
        return FileResponse(found or index)
