"""Feature maps in tensor summaries: a batched [C, H, W] value carries its first sample's
channel maps, block-averaged to a screen-sized side, as colour levels -99..99 on one scale
for the layer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blockprop.engine.summary import (
    MAP_LEVELS,
    MAX_MAP_CHANNELS,
    MAX_MAP_ENTRIES,
    MAX_MAP_PIXELS,
    block_mean,
    map_side,
    summarize,
)


def _close(maps, expected: np.ndarray) -> None:
    """The levels are the values over the largest magnitude, times 99, rounded: within half
    a level of it, integers, and the largest magnitude is exactly ±99."""
    got = np.array(maps, dtype=np.float64)
    assert got.shape == expected.shape
    assert all(isinstance(v, int) for v in np.array(maps, dtype=object).ravel())
    big = float(np.abs(expected).max())
    np.testing.assert_allclose(got, expected / big * MAP_LEVELS, rtol=0, atol=0.5 + 1e-9)
    assert float(np.abs(got).max()) == MAP_LEVELS


def test_conv_sized_maps_are_the_first_sample_in_full():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 16, 8, 8))
    s = summarize(a, batched=True)
    json.dumps(s, allow_nan=False)
    assert s["shape"] == [16, 8, 8] and "data" not in s
    _close(s["maps"], a[0])


def test_large_maps_are_block_means_like_numpy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 32, 32)).astype(np.float32)
    s = summarize(a, batched=True)
    expected = a[0].astype(np.float64).reshape(3, 16, 2, 16, 2).mean(axis=(2, 4))
    _close(s["maps"], expected)


def test_uneven_sides_drop_the_remainder_as_pooling_does():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1, 2, 33, 20))
    got = block_mean(a[0], 16)
    # ⌈33/16⌉ = 3 → 11 rows; ⌈20/16⌉ = 2 → 10 columns
    expected = a[0, :, :33, :20].reshape(2, 11, 3, 10, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(got, expected)
    _close(summarize(a, batched=True)["maps"], expected)


def test_many_channels_keep_the_entry_budget():
    assert map_side(8) == 16 and map_side(9) == 8 and map_side(32) == 8
    a = np.ones((1, 32, 32, 32))
    maps = summarize(a, batched=True)["maps"]
    assert (len(maps), len(maps[0]), len(maps[0][0])) == (32, 8, 8)
    assert MAX_MAP_ENTRIES >= 32 * 8 * 8


def test_non_finite_entries_and_blocks_are_null():
    a = np.zeros((1, 2, 32, 32))
    a[0, 0, 0, 0] = np.nan
    a[0, 1, 5, 7] = np.inf
    a[0, 1, 31, 31] = 3.0
    s = summarize(a, batched=True)
    json.dumps(s, allow_nan=False)
    m = s["maps"]
    assert m[0][0][0] is None and m[1][2][3] is None  # the blocks holding them
    assert m[1][15][15] == MAP_LEVELS and m[0][0][1] == 0  # 0.75, the largest finite block


def test_small_images_have_maps_as_well_as_data():
    a = np.arange(2 * 1 * 8 * 8, dtype=np.float64).reshape(2, 1, 8, 8)
    s = summarize(a, batched=True)
    assert s["data"] == a[0].tolist()
    _close(s["maps"], a[0])


def test_all_zero_maps_are_level_zero():
    assert summarize(np.zeros((2, 3, 4, 4)), batched=True)["maps"] == np.zeros((3, 4, 4)).tolist()


@pytest.mark.parametrize(
    "shape",
    [
        (4, 10),  # vectors
        (4, 6, 8),  # per-sample 2-D (a sequence): not image-like
        (4, MAX_MAP_CHANNELS + 1, 4, 4),  # too many channels to draw
        (4, 2, 40, 40),  # H·W over MAX_MAP_PIXELS
        (4, 2, 2, 2, 2),  # 4-D samples
        (4, 0, 4, 4),  # no channels
    ],
)
def test_absent_for_other_shapes(shape):
    assert MAX_MAP_PIXELS < 40 * 40
    assert "maps" not in summarize(np.ones(shape), batched=True)


def test_absent_for_unbatched_arrays():
    assert "maps" not in summarize(np.ones((16, 8, 8)))  # a parameter: no sample axis
