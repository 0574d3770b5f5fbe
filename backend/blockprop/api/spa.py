"""Serve the built single-page frontend at `/`, falling back to index.html for client routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

_MISSING = """<!doctype html><title>Blockprop</title>
<p>The frontend is not built. Run <code>make run</code> (or <code>npm run build</code> in
<code>frontend/</code>).</p>"""


def mount_spa(app: FastAPI, static_dir: Path) -> None:
    root = static_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def spa(path: str):
        if path.startswith("api/"):
            raise HTTPException(status_code=404, detail=f"no such endpoint: /{path}")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_MISSING, status_code=503)
        # Resolve and check containment so no client path escapes the static folder.
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(index)
