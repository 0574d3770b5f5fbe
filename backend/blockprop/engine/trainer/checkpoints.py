"""Checkpoints: every piece of a trainer's state (parameters, optimiser state, counters, live
settings, the shuffle order and the generators' states) as an .npz without pickle, so that a
run resumed from one continues exactly as if it had not been interrupted."""

from __future__ import annotations

import io
import json
from typing import Self

import numpy as np

from blockprop.engine.data import Dataset
from blockprop.engine.trainer.config import TrainConfig

CHECKPOINT_FORMAT = "blockprop-checkpoint"
CHECKPOINT_VERSION = 1


class Checkpoints:
    """The checkpoint side of a `Trainer` (a mixin): `save_checkpoint()` and
    `from_checkpoint()`."""

    def _buffer_items(self) -> list[tuple[str, str]]:
        """(node, name) of every buffer (running statistics), in the plan's order."""
        return [(nid, name) for nid, bufs in self.plan.buffers.items() for name in bufs]

    def save_checkpoint(self) -> bytes:
        """Parameters, optimiser state, counters, live settings and generator states as an
        .npz (no pickle: `np.load(allow_pickle=False)` reads it)."""
        with self._lock:
            meta = {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "config": self.config.to_dict(),
                "step": self.step_count,
                "epoch": self.epoch,
                "pos": self._pos,
                "epoch_loss": self._epoch_loss,
                "settings": {**self.settings, **self._pending},
                "shuffle_rng": self._shuffle_rng.bit_generator.state,
                "dropout_rng": self._dropout_rng.bit_generator.state,
                "params": [f"{nid}/{name}" for nid, name in self.param_keys],
                # non-trainable state (running statistics), restored like the parameters
                "buffers": [f"{nid}/{name}" for nid, name in self._buffer_items()],
                "status": self.status.value,
                # not needed to resume (the dataset is rebuilt): read by whoever explains a
                # raw sample with these parameters
                "normalized": self.input_normalization(),
            }
            arrays: dict[str, np.ndarray] = {
                "meta": np.array(json.dumps(meta)),
                "perm": self._perm,
            }
            for (nid, name), arr in zip(self.param_keys, self._params, strict=True):
                arrays[f"param/{nid}/{name}"] = arr
            for nid, name in self._buffer_items():
                arrays[f"buffer/{nid}/{name}"] = self.plan.buffers[nid][name]
            for k, v in self.optimizer.state_dict().items():
                arrays[f"optim/{k}"] = v
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            return buf.getvalue()

    @classmethod
    def from_checkpoint(
        cls,
        doc: dict,
        dataset: Dataset,
        config: TrainConfig | dict | None,
        data: bytes,
        *,
        hold_on_divergence: bool = False,
    ) -> Self:
        """A trainer that continues a checkpointed run exactly (same steps, same losses).
        `config` may differ from the saved one only in how long to train (epochs,
        max_steps); the live settings saved in the checkpoint (lr, l1, ...) are restored."""
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
            arrays = {k: npz[k] for k in npz.files}
            meta = json.loads(str(arrays.pop("meta")))
        except Exception as e:
            raise ValueError(f"not a Blockprop checkpoint: {e}") from None
        if meta.get("format") != CHECKPOINT_FORMAT or meta.get("version") != CHECKPOINT_VERSION:
            raise ValueError("not a Blockprop checkpoint (or an unsupported version)")
        if not isinstance(config, TrainConfig):
            config = TrainConfig.from_dict(config)
        saved = meta["config"]
        for key in ("optimizer", "batch_size", "seed", "dtype", "shuffle"):
            if saved.get(key) != getattr(config, key):
                raise ValueError(
                    f"the checkpoint was made with {key}={saved.get(key)!r}, not "
                    f"{getattr(config, key)!r}: resuming exactly needs the same value"
                )
        state: dict[str, dict[str, np.ndarray]] = {}
        for key in meta["params"]:  # node ids may hold "/" (module instances); names never
            nid, name = key.rsplit("/", 1)
            state.setdefault(nid, {})[name] = arrays[f"param/{key}"]
        for key in meta.get("buffers", []):  # running statistics (batch norm)
            nid, name = key.rsplit("/", 1)
            state.setdefault(nid, {})[name] = arrays[f"buffer/{key}"]
        t = cls(doc, dataset, config, state=state, hold_on_divergence=hold_on_divergence)
        if [f"{nid}/{name}" for nid, name in t.param_keys] != meta["params"]:
            raise ValueError("the checkpoint's parameters do not match this graph")
        if [f"{nid}/{name}" for nid, name in t._buffer_items()] != meta.get("buffers", []):
            raise ValueError("the checkpoint's running statistics do not match this graph")
        if t.dataset.n_train != len(arrays["perm"]):
            raise ValueError("the checkpoint was made with a different training set size")
        for p, key in zip(t._params, meta["params"], strict=True):
            np.copyto(p, arrays[f"param/{key}"])
            # copyto casts if the dtype differs
        t.optimizer.load_state_dict(
            {k[len("optim/") :]: v for k, v in arrays.items() if k.startswith("optim/")}
        )
        for keep, p in t._backup_pairs:  # the restored state is the last finite one
            np.copyto(keep, p)
        t._backup_t = t.optimizer.t
        t.step_count = int(meta["step"])
        t.epoch = int(meta["epoch"])
        t._pos = int(meta["pos"])
        t._epoch_loss = float(meta["epoch_loss"])
        t._perm[...] = arrays["perm"]
        t.settings.update(meta["settings"])
        t.optimizer.momentum = t.settings["momentum"]
        t._shuffle_rng.bit_generator.state = meta["shuffle_rng"]
        t._dropout_rng.bit_generator.state = meta["dropout_rng"]
        return t
