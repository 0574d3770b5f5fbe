"""Tensor summaries for snapshots: screen-sized, JSON-able, robust to NaN and infinities."""

from __future__ import annotations

import json

import numpy as np

from blockprop.engine.summary import summarize


def test_statistics_and_histogram():
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    s = summarize(a)
    json.dumps(s)
    assert s["shape"] == [10, 10] and "batch" not in s
    assert s["mean"] == 49.5 and s["min"] == 0 and s["max"] == 99
    assert (
        s["norm"] == round(float(np.linalg.norm(a)), 1) or abs(s["norm"] - np.linalg.norm(a)) < 1e-2
    )
    assert len(s["hist"]["edges"]) == 17 and sum(s["hist"]["counts"]) == 100
    assert len(s["matrix"]) == 10 and s["matrix"][3][4] == 34.0
    assert "data" not in s  # 100 values: too many for a list


def test_batched_values_show_the_first_sample():
    a = np.arange(24, dtype=np.float64).reshape(3, 2, 4)
    s = summarize(a, batched=True)
    assert s["shape"] == [2, 4] and s["batch"] == 3
    assert s["data"] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert "matrix" not in s


def test_large_and_non_finite_arrays():
    a = np.zeros((128, 70), dtype=np.float32)
    a[0, 0], a[1, 1], a[2, 2] = np.nan, np.inf, 5.0
    s = summarize(a)
    json.dumps(s, allow_nan=False)
    assert s["nonfinite"] == 2 and s["max"] == 5.0
    assert "matrix" not in s and "data" not in s  # beyond 64 × 64
    small = summarize(np.array([1.0, np.nan]))
    assert small["data"] == [1.0, None]


def test_constant_and_empty_arrays():
    s = summarize(np.full((4,), 2.5))
    assert s["std"] == 0 and s["hist"]["counts"] == [4] and s["hist"]["edges"] == [2.0, 3.0]
    e = summarize(np.zeros((0, 3)), batched=True)
    assert e["mean"] is None and e["hist"]["counts"] == []
    i = summarize(np.array([[1], [0]], dtype=np.int64), batched=True)
    assert i["data"] == [1] and i["mean"] == 0.5
