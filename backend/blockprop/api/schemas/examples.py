"""The worked examples shipped with the package."""

from __future__ import annotations

from typing import Any

from blockprop.api.schemas.common import Reply
from blockprop.api.schemas.graphs import GraphDocument


class ExampleSummary(Reply):
    id: str
    title: str
    description: str


class Example(ExampleSummary):
    graph: GraphDocument
    dataset: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
