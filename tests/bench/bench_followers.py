"""A classroom session's fan-out: how soon a teacher's step reaches 60 followers, against one.

A real server (uvicorn on a free loopback port); a session followed by 1 WebSocket client (the
reference), then by 60, on the same server; the teacher (an HTTP client with the edit token)
moves through 30 explain steps, each once every follower has the one before, 20 ms apart
(tests/api/followers.py). Rounds alternate the two, and the figures are medians over rounds.

Prints the delay from the teacher's PATCH to each follower receiving the step (median, p95,
max), with 60 followers as a ratio to 1, and whether the target (every step at every follower
within 1 s) was met. Run with `python tests/bench/bench_followers.py` (or `make bench`); not
collected by pytest, and never fails on speed. (tests/api/test_sessions_load.py checks that
every follower sees every step.)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from api.followers import follow_steps  # noqa: E402
from conftest import start_server  # noqa: E402  (tests/conftest.py)

FOLLOWERS = 60
STEPS = 30
ROUNDS = 3
GAP = 0.02  # seconds between the teacher's steps
TARGET_MAX_S = 1.0


def delays(result: dict) -> list[float]:
    sent = result["sent"]
    return sorted(at - sent[step] for seen in result["seen"] for step, at in seen.items())


def figures(ds: list[float]) -> dict[str, float]:
    return {
        "median_ms": 1000 * statistics.median(ds),
        "p95_ms": 1000 * ds[int(0.95 * (len(ds) - 1))],
        "max_ms": 1000 * ds[-1],
    }


def main() -> None:
    print(
        f"== followers: a session, 1 follower (reference) vs {FOLLOWERS}; {STEPS} explain steps "
        f"{1000 * GAP:.0f} ms apart; {ROUNDS} rounds"
    )
    by: dict[int, list[dict[str, float]]] = {1: [], FOLLOWERS: []}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            for _ in range(ROUNDS):
                for n in (1, FOLLOWERS):
                    result = asyncio.run(follow_steps(server.url, n, STEPS, gap=GAP))
                    by[n].append(figures(delays(result)))
        finally:
            server.stop()
    med = {n: {k: statistics.median(f[k] for f in fs) for k in fs[0]} for n, fs in by.items()}
    for n in (1, FOLLOWERS):
        line = f"   {n:2d} follower{'s' if n > 1 else ' '}: step → follower"
        for k in ("median_ms", "p95_ms", "max_ms"):
            ratio = f" ({med[n][k] / med[1][k]:.1f}× one)" if n > 1 and med[1][k] else ""
            line += f" {k[:-3]} {med[n][k]:6.1f} ms{ratio}"
        print(line)
    worst = max(f["max_ms"] for f in by[FOLLOWERS]) / 1000
    ok = "met" if worst < TARGET_MAX_S else "NOT met"
    print(
        f"   target: every step at every follower within {TARGET_MAX_S:g} s: {ok} ({worst:.3f} s)"
    )


if __name__ == "__main__":
    main()
