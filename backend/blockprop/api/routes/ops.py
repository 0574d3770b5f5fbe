"""GET /api/ops: the op catalogue, read from the engine's registry."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter

from blockprop.api.schemas import OpSpec

router = APIRouter(tags=["ops"])


@cache
def _catalogue() -> list[dict[str, Any]]:
    from blockprop.engine import registry

    return [registry.op_spec(op) for op in registry.all_ops()]


@router.get("/ops", response_model=list[OpSpec])
def list_ops() -> list[dict[str, Any]]:
    """Every op: name, label, category, ports, params, trainable parameters, LaTeX formulas."""
    return _catalogue()
