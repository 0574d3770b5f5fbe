"""GET /api/examples: the worked examples shipped with the package."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from blockprop.api.errors import ApiError
from blockprop.api.schemas import Example, ExampleSummary, errors

router = APIRouter(tags=["examples"])


@router.get("/examples", response_model=list[ExampleSummary])
def list_examples() -> list[dict[str, Any]]:
    """The worked examples: id, title and a few lines of description."""
    from blockprop.examples import list_examples as _list

    return _list()


@router.get("/examples/{example_id}", response_model=Example, responses=errors(404))
def get_example(example_id: str) -> dict[str, Any]:
    """One example: its graph, suggested dataset and training settings."""
    from blockprop.examples import get_example as _get
    from blockprop.examples import list_examples as _list

    # Only ids the package lists reach the loader: no client string becomes a file path.
    example = None
    if example_id in {e["id"] for e in _list()}:
        try:
            example = _get(example_id)
        except (KeyError, ValueError, FileNotFoundError):
            example = None
    if not example:
        raise ApiError(404, "not_found", f"no example with id {example_id!r}")
    return example
