"""The bytes that travel between the server and its pool workers: no pickle, one frame a
message, each naming its run.

A frame is ``kind (1 byte) · run id length (1 byte) · run id · payload``. The run id is empty
for messages about the worker itself (its load report). Kinds:

server → worker
  ``J`` a control message (JSON) for the run: pause, resume, step, stop, set, subscribe, state;
  ``N`` start a run: three 8-byte lengths (init JSON, uploaded CSV, checkpoint), then the three
  (a length of 0: none).

worker → server
  ``J`` a JSON message (``ready``, ``status``, ``reply``, ``failed``, ``exit``; with no run id:
  ``load``), ``P`` metric points (first step, last step and epoch, 3 × 8 bytes, then a JSON
  list), ``S`` a snapshot frame, ``B`` a boundary frame, ``K`` a checkpoint (8-byte step,
  8-byte npz length, the npz, then the state as JSON).
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

_DUMP = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_LENGTHS = struct.Struct("<qqq")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_DUMP, default=_default)


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple | set):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def frame(kind: bytes, run_id: str, payload: bytes) -> bytes:
    rid = run_id.encode()
    return kind + bytes([len(rid)]) + rid + payload


def parse(data: bytes) -> tuple[bytes, str, bytes]:
    """(kind, run id, payload) of a frame."""
    n = data[1]
    return data[:1], data[2 : 2 + n].decode(), data[2 + n :]


def start_payload(init: dict[str, Any], csv: bytes | None, checkpoint: bytes | None) -> bytes:
    head = dumps(init)
    csv, checkpoint = csv or b"", checkpoint or b""
    return _LENGTHS.pack(len(head), len(csv), len(checkpoint)) + head + csv + checkpoint


def parse_start(payload: bytes) -> tuple[dict[str, Any], bytes | None, bytes | None]:
    n_init, n_csv, n_ckpt = _LENGTHS.unpack_from(payload)
    at = _LENGTHS.size
    init = orjson.loads(payload[at : at + n_init])
    at += n_init
    csv = payload[at : at + n_csv] if n_csv else None
    at += n_csv
    checkpoint = payload[at : at + n_ckpt] if n_ckpt else None
    return init, csv, checkpoint
