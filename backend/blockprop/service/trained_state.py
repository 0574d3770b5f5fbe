"""TrainedStates: a run's trained parameters, live from its worker or from its checkpoint."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from blockprop.service.errors import ServiceError
from blockprop.service.live_run import LiveRun
from blockprop.service.pool_worker import build_dataset as worker_build_dataset
from blockprop.service.store import RunRow, Store
from blockprop.settings import Settings

log = logging.getLogger("blockprop.runs")

#: how many trained states `RunManager.trained_state` keeps for a repeated request, and how
#: many parameter values they may hold together
KEPT_STATES = 8
KEPT_VALUES = 4_000_000


class TrainedStates:
    """Part of RunManager (runs.py): reading a run's trained parameters, and keeping the last
    few served so that a repeated request sees the same numbers."""

    # provided by RunManager
    store: Store
    settings: Settings
    live: dict[str, LiveRun]
    _kept: OrderedDict[tuple[str, int], dict[str, Any]]
    _kept_sizes: dict[tuple[str, int], int]
    upload_for: Callable[[dict[str, Any]], tuple[dict[str, Any] | None, bytes | None]]
    _request: Callable[[LiveRun, dict[str, Any], float], Awaitable[dict]]

    async def live_state(self, run_id: str) -> dict[str, Any] | None:
        live = self.live.get(run_id)
        if live is None or live.status == "starting":
            return None
        try:
            reply = await self._request(live, {"type": "state"}, 3.0)
        except TimeoutError:
            return None
        return None if "error" in reply else reply

    async def trained_state(self, row: RunRow, step: int | None = None) -> dict[str, Any] | None:
        """A run's trained parameters as ``{step, state, normalized}``: live from its worker,
        else from its last checkpoint; ``None`` when it has neither yet. ``normalized`` is how
        its input feed was normalised (``{input_id: {mean, std}}``, ``{}`` when not).

        With ``step``, the parameters served earlier at that step are answered again while the
        server still keeps them (the last few, see ``KEPT_STATES``), so a second explain of a
        run that trains on (a follower's, say) sees the same numbers."""
        if step is not None:
            kept = self._kept.get((row.id, step))
            if kept is not None:
                self._kept.move_to_end((row.id, step))
                return kept
        got = await self.live_state(row.id)
        if got is not None:
            found = {"step": got["step"], "state": got["state"]}
            normalized = got.get("normalized")
        else:
            cp = await asyncio.to_thread(self.store.get_checkpoint, row.id)
            if cp is None:
                return None
            found, normalized = await asyncio.to_thread(_read_checkpoint, *cp)
        if normalized is None:  # a checkpoint from before normalisation was recorded
            normalized = await asyncio.to_thread(self._normalization_from_spec, row)
        found["normalized"] = normalized
        self._keep(row.id, found)
        return found

    def _keep(self, run_id: str, found: dict[str, Any]) -> None:
        size = sum(_size(a) for p in found["state"].values() for a in p.values())
        if size > KEPT_VALUES:
            return
        key = (run_id, found["step"])
        self._kept[key] = found
        self._kept.move_to_end(key)
        self._kept_sizes[key] = size
        while len(self._kept) > KEPT_STATES or sum(self._kept_sizes.values()) > KEPT_VALUES:
            old, _ = self._kept.popitem(last=False)
            self._kept_sizes.pop(old, None)

    def _normalization_from_spec(self, row: RunRow) -> dict[str, Any]:
        """How a run normalised its input, recomputed from its dataset spec (deterministic:
        the split is seeded). Blocking: call it in a thread."""
        from blockprop.engine import registry
        from blockprop.engine.data import DataError
        from blockprop.engine.modules import MODULE_OP

        if not row.dataset.get("normalize", True):
            return {}
        try:
            upload, csv = self.upload_for(row.dataset)
            ds = worker_build_dataset(row.dataset, upload, csv, self.settings.max_upload_rows)
        except (DataError, ServiceError) as e:
            raise ServiceError(
                409,
                "no_state",
                f"how the run normalised its inputs is not known: its dataset is gone ({e})",
            ) from None
        if not ds.normalizer.active:
            return {}
        inputs = [  # inputs are never inside a module: an instance is no input
            n["id"]
            for n in row.doc.get("nodes", [])
            if n["op"] != MODULE_OP and registry.get(n["op"]).source == "input"
        ]
        nid = row.config.get("input") or (inputs[0] if len(inputs) == 1 else None)
        if nid is None:
            return {}
        return {nid: {"mean": ds.normalizer.mean.tolist(), "std": ds.normalizer.std.tolist()}}


def _read_checkpoint(step: int, data: bytes, state: bytes) -> tuple[dict[str, Any], Any]:
    """A stored checkpoint's ``{step, state}`` and its recorded input normalisation (``None``
    when it predates the record). Blocking."""
    import io
    import json

    import numpy as np

    normalized = None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            normalized = json.loads(str(npz["meta"])).get("normalized")
    except Exception:  # an unreadable npz still has its JSON state
        log.warning("a checkpoint's meta could not be read", exc_info=True)
    return {"step": int(step), "state": orjson.loads(state)}, normalized


def _size(v: Any) -> int:
    """How many numbers a regular nested list (or a number) holds."""
    n = 1
    while isinstance(v, list):
        n *= len(v)
        v = v[0] if v else None
    return n
