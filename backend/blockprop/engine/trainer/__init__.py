"""Training: gradient descent on a compiled graph, as the notes teach it.

    >>> from blockprop.engine.data import load_dataset
    >>> from blockprop.engine.trainer import Trainer, TrainConfig
    >>> t = Trainer(doc, load_dataset("spiral"), TrainConfig(epochs=200, optimizer="adam",
    ...             lr=0.01, batch_size=32))
    >>> t.run(on_points=print)            # or: while t.step(): ...
    >>> t.evaluate(), t.snapshot(), t.boundary()

One trainer serves the CLI, the server's run workers and notebooks. The package splits it by
concern: `config` (TrainConfig, Status), `feeds` (the dataset onto the graph), `steps` (one
optimisation step), `control` (run, pause, resume, stop, live settings), `evaluation`,
`snapshots` (what a watcher sees) and `checkpoints`; `trainer` puts them together.

- **Batch size decides the method**: `batch_size=None` is full-batch gradient descent (one
  step per epoch, no shuffling: the gradient does not depend on the order), 1 is SGD, k is
  mini-batch SGD (k ≥ the training set size is full batch). When k does not divide the
  training set, the last batch of each epoch is the remainder (smaller, run on a second
  plan sharing the parameters): every sample is used exactly once per epoch.
- **Loss** of a step is the engine's batch loss: the mean over the batch of the sum of all
  cost nodes. Regularisation is not included in it; it enters through the gradient:
  L1 adds `l1·sign(W)`, L2 adds `l2·W` (the gradient of `l1·Σ|W|` and `l2·½·Σ W²`), from the
  epochs `l1_start` / `l2_start` on (0-based), to the *weights* only: trainable parameters
  named `W` and explicit `parameter` nodes (not biases `b` nor prototypes `P`).
- **Learning rate** of a step: `lr · schedule(epoch)` (see `schedules`), epoch 0-based.
- **Metric points**: every step yields `{"step", "epoch", "loss", "lr", "grad_norm"}` where
  `step` counts steps from 1, `epoch` is the 1-based epoch the step belongs to and
  `grad_norm` is the L2 norm of the loss gradient over all trainable parameters (before
  regularisation). The last step of an epoch also carries `train_loss` (the mean of the
  epoch's batch losses) and, every `eval_every` epochs and at the end of training,
  `full_loss` (L(S, w): the loss on the whole training split with the parameters as they
  are then, dropout off, regularisation not included), `test_loss` and, for
  classification, `accuracy` on the test split (`test_loss` is absent
  when the test split is empty; `accuracy` is then measured on the training split).
- **Divergence**: a non-finite loss or gradient stops training with status `diverged`; the
  step is not counted, `diverged_node` is the first node in topological order holding a
  non-finite value or gradient, and the parameters of the last finite step are restored
  (the ones its finite loss was computed with). That ends the run (the CLI, notebooks) unless
  the trainer is built with `hold_on_divergence=True` (the server's workers): it is then
  *held* (`held`), status `diverged`, with the optimiser's state put back too, and waits as
  when paused; `resume()` or `request_steps(n)` go on from that state with whatever settings
  were changed meanwhile (a smaller `lr`, say), `stop()` ends it as `diverged`. A run that
  diverges again is held again.
- **Determinism**: parameters are initialised from `seed`, batches are shuffled and dropout
  masks drawn from generators seeded by `seed`: the same graph, data, config and seed give
  the same loss sequence, bit for bit. `save_checkpoint()` / `from_checkpoint()` carry
  every piece of that state, so a resumed run continues exactly as if uninterrupted.
- **Control** from another thread while `run()` loops: `pause()`, `resume()`,
  `request_steps(n)`, `stop()`, `set(lr=..., l1=..., l2=..., momentum=..., ...)`; they
  take effect between steps (see `control`).
- **Speed**: `speed=k` keeps `run()` to at most k steps per second (0: as fast as it goes),
  so a person can watch a small model learn; it can change while training (`set(speed=…)`).
"""

from __future__ import annotations

from blockprop.engine.trainer.checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from blockprop.engine.trainer.config import LIVE_SETTINGS, TERMINAL, Status, TrainConfig
from blockprop.engine.trainer.evaluation import EVAL_BATCH
from blockprop.engine.trainer.trainer import Trainer

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "EVAL_BATCH",
    "LIVE_SETTINGS",
    "TERMINAL",
    "Status",
    "TrainConfig",
    "Trainer",
]
