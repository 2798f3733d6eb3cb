"""What one worker does: train a unit of jobs, then query every trained model.

A :class:`ModelTask` is pure data (records, seeds, model config, what to query), and :func:`run_task`
a pure function of it and the dataset: it returns arrays and writes nothing, so a worker on a machine
without the results folder can run it.  The parent turns the returned arrays into cache files.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.models.queries import QuerySpec
from mia_repro.base.determinism import set_deterministic
from mia_repro.training.jobs import TrainJob, TrainResult, machine_info


@dataclass(frozen=True)
class DataRef:
    """The pooled CIFAR-10 as a worker finds it on its own disk: ``path`` (as ``--data``; None: the usual
    search, ``MIA_REPRO_DATA`` first) and the first ``n_records``.  Small to send; :meth:`load` reads and checks
    the dataset once per process (a worker that trains many models reads it once)."""

    path: str | None
    n_records: int

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """x uint8 (n_records, 32, 32, 3), y int64 (n_records,)."""
        key = (self.path, self.n_records)
        if key not in _LOADED:
            from mia_repro.data.cifar10 import load_cifar10

            from mia_repro.data.cifar10 import InputError

            x, y = load_cifar10(self.path)
            if len(x) < self.n_records:
                raise InputError(f"the dataset has {len(x)} records but the config needs {self.n_records}; "
                                 f"set max_records={len(x)}")
            _LOADED.clear()  # one dataset per process
            _LOADED[key] = (x[: self.n_records], y[: self.n_records])
        return _LOADED[key]


_LOADED: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def resolve_data(data: "DataRef | tuple[np.ndarray, np.ndarray]") -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` from a :class:`DataRef` (loaded here) or as given."""
    return data.load() if isinstance(data, DataRef) else data


@dataclass(frozen=True)
class ModelTask:
    """One unit of work: ``jobs`` trained together (one job for the sequential trainer, K for the
    stacked one) with ``model_cfg``; ``queries``: per job, the :class:`~mia_repro.models.queries.QuerySpec`
    (own records, population, augmentations, reference records) or None to skip inference.
    ``label``: how messages name the unit (e.g. ``"n=2500 target"``)."""

    jobs: tuple[TrainJob, ...]
    model_cfg: ModelConfig
    queries: tuple[QuerySpec, ...] | None = None
    trainer: str = "sequential"
    steps_per_execution: int | None = None
    deterministic: bool = True
    verbose: int = 0
    label: str = ""

    def __str__(self) -> str:
        return self.label or ", ".join(j.name for j in self.jobs)


def run_task(task: ModelTask, data: "DataRef | tuple[np.ndarray, np.ndarray]") -> list[tuple[TrainResult, dict | None]]:
    """Train ``task.jobs`` on ``data`` (a :class:`DataRef`, or ``(x, y)``: x uint8 (N, 32, 32, 3), y int (N,));
    return ``(result, queries)`` per job, ``queries`` from :meth:`QuerySpec.ask <mia_repro.models.queries.QuerySpec.ask>` (None when
    ``task.queries`` is None)."""
    x, y = resolve_data(data)
    set_deterministic(task.deterministic)
    if task.model_cfg.dp is not None:  # DP-SGD: its own loop, one model at a time, whatever the trainer
        from mia_repro.training.dp_sgd import train_dp

        results = [train_dp(j, task.model_cfg, x, y, verbose=task.verbose) for j in task.jobs]
    elif task.trainer == "stacked":
        from mia_repro.training.stacked import train_stacked

        results = train_stacked(list(task.jobs), task.model_cfg, x, y, verbose=task.verbose,
                                steps_per_execution=task.steps_per_execution)
    else:
        from mia_repro.training.sequential import train_one

        results = [train_one(j, task.model_cfg, x, y, verbose=task.verbose,
                             steps_per_execution=task.steps_per_execution) for j in task.jobs]
    for r in results:
        r.extra["trained_on"] = machine_info()  # the worker's machine, which on a cluster is not the parent's
    if task.queries is None:
        return [(r, None) for r in results]
    return [(r, spec.ask(r.weights, task.model_cfg, x)) for r, spec in zip(results, task.queries)]
