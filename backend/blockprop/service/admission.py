"""Admission by capacity: which worker a run goes to, or whether it waits in the queue.

Each pool worker is one core. A live run *reserves* part of it:

- a run paced at `speed` steps per second reserves speed × its step cost (seconds of CPU per
  step: measured by its worker, else remembered from an earlier run of the same graph, else
  estimated from the graph's size), or the share of a core its worker measured it to take
  all told (with the snapshots and boundary grids its watchers ask for), if that is more;
- an unpaced run (speed 0) reserves `min_unpaced_share`: it trains as fast as the CPU left over
  allows, sharing it round-robin with the worker's other unpaced runs;
- a paused or held run reserves nothing (it costs no CPU while it waits).

A run is admitted to the least-loaded worker whose reservations, with the new one, stay within
`capacity` (a fraction of a core, leaving headroom for snapshots and the server), and whose
memory budget holds its tensors. Otherwise it waits, first in, first out, and starts as soon
as a worker has room. This module is pure bookkeeping: the run manager feeds it the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

#: seconds a step costs before anything is known: fixed overhead, per node, per number touched
BASE_COST = 60e-6
NODE_COST = 25e-6
FLOP_COST = 1 / 1.5e9


@dataclass
class Demand:
    """What a run asks of a worker."""

    speed: float  # steps per second (0: unpaced)
    cost: float  # seconds of CPU per step
    memory: int  # bytes of tensors
    running: bool = True
    #: the share of a core a paced run was measured to take all told (its snapshots and
    #: boundary grids too, which its pace × cost leaves out), when known
    measured: float | None = None

    def reservation(self, min_unpaced_share: float) -> float:
        if not self.running:
            return 0.0
        if self.speed > 0:
            return max(self.speed * self.cost, self.measured or 0.0)
        return min_unpaced_share


@dataclass
class WorkerLoad:
    """A worker as admission sees it: its runs' demands."""

    key: int
    demands: list[Demand] = field(default_factory=list)

    def cpu(self, min_unpaced_share: float) -> float:
        return sum(d.reservation(min_unpaced_share) for d in self.demands)

    def memory(self) -> int:
        return sum(d.memory for d in self.demands)


@dataclass
class Policy:
    capacity: float = 0.85  # of a core, per worker
    min_unpaced_share: float = 0.05
    memory_per_worker: int = 4 << 30

    def fits(self, w: WorkerLoad, need: Demand) -> bool:
        cpu = w.cpu(self.min_unpaced_share) + need.reservation(self.min_unpaced_share)
        empty = not any(d.running for d in w.demands)
        # A worker with nothing running takes any run: a run that alone needs more than a core
        # still trains, only slower than asked.
        cpu_ok = empty or cpu <= self.capacity + 1e-12
        return cpu_ok and w.memory() + need.memory <= self.memory_per_worker

    def place(self, workers: Iterable[WorkerLoad], need: Demand) -> int | None:
        """The key of the least-loaded worker that has room for `need`, or None."""
        best: WorkerLoad | None = None
        best_load = math.inf
        for w in workers:
            if not self.fits(w, need):
                continue
            load = w.cpu(self.min_unpaced_share)
            if load < best_load:
                best, best_load = w, load
        return None if best is None else best.key

    def share(self, workers: Iterable[WorkerLoad]) -> float:
        """The reserved CPU over all workers, as a fraction of their capacity."""
        ws = list(workers)
        if not ws:
            return 0.0
        return sum(w.cpu(self.min_unpaced_share) for w in ws) / (len(ws) * self.capacity)


def estimate_cost(nodes: int, params: int, numbers: int, batch: int) -> float:
    """Seconds of CPU a training step of a graph may take, before it has been measured:
    NumPy's per-call overhead (a few calls per node, forward and backward) dominates small
    graphs; the arithmetic (about 6 flops per parameter and sample, a few per value) large
    ones."""
    flops = 6 * params * batch + 10 * numbers * batch
    return BASE_COST + NODE_COST * nodes + FLOP_COST * flops


def wait_estimate(position: int, finishing_in: Iterable[float]) -> float | None:
    """Seconds until the run at queue `position` (1: next) may start, if each run that ends
    frees room for one waiting run: when the position-th of the live runs ends. None when
    not enough runs have a foreseeable end (paused, or unpaced without an end in sight)."""
    ends = sorted(t for t in finishing_in if math.isfinite(t))
    if position < 1 or position > len(ends):
        return None
    return max(0.0, ends[position - 1])
