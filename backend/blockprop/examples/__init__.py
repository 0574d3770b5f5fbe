"""Worked examples shipped with the package: one JSON file per example.

Each file holds, at top level:

- ``title``, ``description``: for people;
- ``dataset``: ``{"name", ...}`` — keyword arguments of
  :func:`blockprop.engine.data.load_dataset` (``n``, ``noise``, ``seed``,
  ``test_fraction``, ``normalize`` and the dataset's own parameters);
- ``train``: a :class:`blockprop.engine.trainer.TrainConfig` as a dict (suggested settings);
- ``expect``: the quality these settings reach, checked by the tests:
  ``{"min": {"accuracy": 0.95}, "max": {"loss": 0.01}}`` (metrics of
  ``Trainer.evaluate()``: ``loss`` = train loss, ``test_loss``, ``accuracy``) and, for
  linear regression, ``"recover"``: which parameters must match the dataset's true
  coefficients, within ``tol``;
- ``graph``: the graph document (DESIGN.md, version 1). :func:`get_example` gives it the
  example's ``dataset`` and ``train`` too, the document's own fields for them, so an example
  opened, saved or exported travels with its data and settings.

>>> from blockprop.examples import list_examples, get_example
>>> [e["id"] for e in list_examples()][:3]
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any


class UnknownExample(KeyError):
    """`get_example(id)` for an id that is not shipped."""

    def __init__(self, example_id: str, known: list[str]):
        self.example_id = example_id
        self.message = f"no example '{example_id}'; the examples are {', '.join(known)}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@cache
def _load_all() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    root = resources.files(__name__)
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out[entry.name[: -len(".json")]] = json.loads(entry.read_text(encoding="utf-8"))
    return out


def list_examples() -> list[dict[str, Any]]:
    """`[{"id", "title", "description", "dataset"}]`, sorted by id."""
    return [
        {
            "id": eid,
            "title": ex["title"],
            "description": ex["description"],
            "dataset": ex["dataset"]["name"],
        }
        for eid, ex in _load_all().items()
    ]


def get_example(example_id: str) -> dict[str, Any]:
    """The whole example (a fresh copy: callers may modify it), with its ``id`` added.
    Raises :class:`UnknownExample` (a KeyError with a readable message)."""
    examples = _load_all()
    if example_id not in examples:
        raise UnknownExample(str(example_id), list(examples))
    ex = {"id": example_id, **copy.deepcopy(examples[example_id])}
    ex["graph"] = {**ex["graph"], "dataset": dict(ex["dataset"]), "train": dict(ex["train"])}
    return ex


def dataset_kwargs(example: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`(name, kwargs)` for `load_dataset(name, **kwargs)` from an example's ``dataset``."""
    spec = dict(example["dataset"])
    return spec.pop("name"), spec


def load_example(example_id: str):
    """`(graph, dataset, config)` ready for `Trainer(graph, dataset, config)`."""
    from blockprop.engine.data import load_dataset
    from blockprop.engine.trainer import TrainConfig

    ex = get_example(example_id)
    name, kwargs = dataset_kwargs(ex)
    return ex["graph"], load_dataset(name, **kwargs), TrainConfig.from_dict(ex["train"])
