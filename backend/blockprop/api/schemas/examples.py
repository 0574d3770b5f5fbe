"""The worked examples shipped with the package."""

from __future__ import annotations

from typing import Any

from blockprop.api.schemas.common import Reply


class ExampleSummary(Reply):
    id: str
    title: str
    description: str


class Example(ExampleSummary):
    graph: dict[str, Any]
    dataset: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
