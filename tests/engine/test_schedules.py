"""Every learning-rate schedule yields its documented sequence."""

from __future__ import annotations

import math

import pytest

from blockprop.engine.schedules import SCHEDULES, Schedule, lr_sequence


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("constant", {}, [0.1] * 6),
        ("step", {"step_size": 2, "gamma": 0.5}, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]),
        ("step", {"step_size": 3, "gamma": 0.1}, [0.1, 0.1, 0.1, 0.01, 0.01, 0.01]),
        ("exponential", {"gamma": 0.5}, [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125]),
        ("inv_t", {"decay": 1.0}, [0.1, 0.1 / 2, 0.1 / 3, 0.1 / 4, 0.1 / 5, 0.1 / 6]),
        ("inv_t", {"decay": 0.5}, [0.1 / (1 + 0.5 * t) for t in range(6)]),
        (
            "cosine",
            {"epochs": 4},
            [0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05, 0.1 * (1 - math.sqrt(0.5)) / 2, 0.0, 0.0],
        ),
    ],
)
def test_documented_sequences(name, kwargs, expected):
    got = lr_sequence(name, 0.1, 6, **kwargs)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_every_schedule_is_documented_and_starts_at_the_base_rate():
    import blockprop.engine.schedules as mod

    for name in SCHEDULES:
        assert name in mod.__doc__
        assert Schedule(name, epochs=10)(0) == 1.0
        seq = Schedule(name, epochs=10).sequence(1.0, 10)
        assert all(a >= b for a, b in zip(seq, seq[1:], strict=False))  # never increases


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "linear"}, "schedule must be one of"),
        ({"name": "step", "step_size": 0}, "step_size"),
        ({"name": "exponential", "gamma": 0.0}, "gamma"),
        ({"name": "exponential", "gamma": 1.5}, "gamma"),
        ({"name": "inv_t", "decay": -1.0}, "decay"),
        ({"name": "cosine", "epochs": 0}, "epochs"),
    ],
)
def test_bad_schedule_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Schedule(**kwargs)
