"""Feature maps in snapshots: what they cost a convnet's stream (issue 18, node live views).

Run: ``python tests/bench/bench_summary.py`` (``make bench``). Not a test, and it never fails
on speed.

digits_conv (x [1, 8, 8] → conv2d 16 channels → max_pool2d → relu → flatten → linear), after
a few training steps. The reference, measured in the same run: the same summaries without
channel maps (`summary.is_image_like` answering no). Printed: the snapshot frame's bytes
(the JSON the stream sends), the time of `summarize` on the conv layer's value [32, 16, 8, 8]
and of a whole `snapshot()`, each with and without maps and as a ratio, and a snapshot's cost
as a share of the training time at 10 snapshots a second.
"""

from __future__ import annotations

import time

from blockprop.engine import summary
from blockprop.engine.summary import summarize
from blockprop.engine.trainer import Trainer
from blockprop.examples import load_example
from blockprop.service.framing import dumps


def _best(fn, repeat: int = 7, number: int = 200) -> float:
    """Seconds per call, the fastest of `repeat` rounds of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def _measure(trainer: Trainer, conv) -> dict[str, float]:
    return {
        "bytes": len(dumps({**trainer.snapshot(), "type": "snapshot"})),
        "summarize": _best(lambda: summarize(conv, batched=True)),
        "snapshot": _best(trainer.snapshot, number=30),
    }


def main() -> None:
    graph, ds, cfg = load_example("digits_conv")
    t = Trainer(graph, ds, cfg)
    for _ in range(5):
        t.step()
    conv = t._ensure_values().values["conv"]
    step = _best(t.step, repeat=3, number=20)
    with_maps = _measure(t, conv)
    real = summary.is_image_like
    summary.is_image_like = lambda shape: False
    try:
        without = _measure(t, conv)
    finally:
        summary.is_image_like = real
    print(f"digits_conv, conv value {list(conv.shape)}; a training step {step * 1e3:.2f} ms")
    print(f"{'':24}{'no maps':>12}{'maps':>12}{'ratio':>8}")
    for key, unit, scale in (("bytes", "B", 1), ("summarize", "µs", 1e6), ("snapshot", "µs", 1e6)):
        a, b = without[key] * scale, with_maps[key] * scale
        print(f"{key + ' (' + unit + ')':24}{a:12.0f}{b:12.0f}{b / a:8.2f}")
    share = 10 * with_maps["snapshot"]
    print(f"10 snapshots/s take {share:.1%} of a core (no maps: {10 * without['snapshot']:.1%})")


if __name__ == "__main__":
    main()
