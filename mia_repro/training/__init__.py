"""Training: jobs in, trained models out, on one core, every core or a cluster.

* :mod:`.jobs` — :class:`TrainJob` / :class:`TrainResult`, the trainers' contract, and the machine facts
  each model's file records;
* :mod:`.sequential` — one ordinary Keras model per job (CPU, any backend);
* :mod:`.stacked` — K models in one graph (for GPUs);
* :mod:`.threads` — the backend's thread count per model (the only backend-specific code here);
* :mod:`.task` — what a worker does with a unit of jobs (train, then query);
* :mod:`.executor` — runs the units on local processes or a Dask cluster, results back as they finish.

:func:`train_models` is the library entry point; Stage I and the mitigation stage go through the same
executor with inference added (:func:`mia_repro.experiment.trained.train_or_load_many`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.training.executor import Execution, TrainingFailed, run_units
from mia_repro.training.jobs import (TrainJob, TrainResult, backend_info, check_training_inputs, choose_trainer,
                   default_steps_per_execution, machine_info)
from mia_repro.training.sequential import train_one, train_sequential
from mia_repro.training.task import DataRef, ModelTask, resolve_data, run_task


def task_units(jobs: Sequence[TrainJob], trainer: str) -> list[list[TrainJob]]:
    """How jobs are grouped into units: one job per unit (sequential), all together (stacked)."""
    return [list(jobs)] if trainer == "stacked" else [[j] for j in jobs]


def train_models(
    jobs: Sequence[TrainJob],
    cfg: ModelConfig,
    x: np.ndarray,
    y: np.ndarray,
    trainer: str = "auto",
    verbose: int = 0,
    on_result: Callable[[TrainResult], None] | None = None,
    steps_per_execution: int | None = None,
    execution: Execution | None = None,
    deterministic: bool = True,
) -> list[TrainResult]:
    """Train K same-architecture models; one :class:`TrainResult` per job, in the jobs' order.

    ``x`` uint8 (N, 32, 32, 3), ``y`` int (N,).  ``trainer``: "auto", "stacked" or "sequential"
    (:func:`choose_trainer`); ``execution`` (default: this machine's cores, 2 threads per model) says
    where the models train; ``on_result`` is called in this process as each model finishes.
    """
    if len(jobs) == 0:
        return []
    check_training_inputs(jobs, cfg, x, y)
    kind, _ = choose_trainer(trainer)
    units = [ModelTask(tuple(u), cfg, None, kind, steps_per_execution, deterministic, verbose)
             for u in task_units(jobs, kind)]
    found: dict[str, TrainResult] = {}

    def keep(unit: ModelTask, outcome) -> None:
        for result, _ in outcome:
            found[result.name] = result
            if on_result is not None:
                on_result(result)

    run_units(run_task, units, ((np.asarray(x), np.asarray(y)),), execution or Execution(), keep,
              size=lambda u: len(u.jobs), desc="training")
    return [found[j.name] for j in jobs]


__all__ = ["DataRef", "Execution", "ModelTask", "resolve_data", "TrainJob", "TrainResult", "TrainingFailed", "backend_info",
           "check_training_inputs", "choose_trainer", "default_steps_per_execution", "machine_info", "run_task",
           "run_units", "task_units", "train_models", "train_one", "train_sequential"]
