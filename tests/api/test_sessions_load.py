"""One server holds 60 followers of a classroom session, and each sees every teacher's step.

60 WebSocket clients on loopback follow one session; the teacher (an HTTP client with the
edit token) moves through 30 explain steps, waiting each time until every follower has it.
How soon a step reaches them is measured by tests/bench/bench_followers.py.
"""

from __future__ import annotations

import asyncio

from .followers import follow_steps

FOLLOWERS = 60
STEPS = 30


def test_sixty_followers_see_every_step(live_server):
    result = asyncio.run(asyncio.wait_for(follow_steps(live_server.url, FOLLOWERS, STEPS), 240))
    for i, seen in enumerate(result["seen"]):
        assert sorted(seen) == list(range(1, STEPS + 1)), (i, sorted(seen))
