"""The sequential trainer: one ordinary Keras model per job (CPU, any backend)."""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import to_model_input
from mia_repro.models.inference import predict_batched
from mia_repro.models.cnn import build_cnn
from mia_repro.base.quiet import backend_noise_filtered, keras
from mia_repro.training.jobs import TrainJob, TrainResult, default_steps_per_execution


def train_one(job: TrainJob, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, verbose: int = 0,
              steps_per_execution: int | None = None) -> TrainResult:
    """Train ``job`` as an ordinary Keras model and return its :class:`TrainResult`.

    ``x`` uint8 (N, 32, 32, 3), ``y`` int (N,).  The result depends only on the job (its records and
    seed), ``cfg``, and the backend's thread count (:mod:`.threads`): never on which process runs it.
    ``steps_per_execution`` (default :func:`~.jobs.default_steps_per_execution`) is kept in ``extra``.
    """
    if steps_per_execution is None:
        steps_per_execution = default_steps_per_execution("sequential")
    start = time.perf_counter()
    keras.utils.set_random_seed(job.seed)
    model = build_cnn(cfg, seed=job.seed, steps_per_execution=steps_per_execution)
    with backend_noise_filtered():  # tf.data's "NodeDef mentions attribute ..." lines
        hist = model.fit(
            to_model_input(x[job.members], cfg.scale_inputs),
            y[job.members],
            batch_size=cfg.batch_size,
            epochs=cfg.epochs,
            shuffle=True,
            verbose=verbose,
        )
    probs = predict_batched(model, x[job.eval_indices], cfg)
    result = TrainResult(
        name=job.name,
        probs=probs,
        history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
        weights=model.get_weights(),
        seconds=time.perf_counter() - start,
        trainer="sequential",
        extra={"steps_per_execution": steps_per_execution},
    )
    keras.backend.clear_session()
    return result


def train_sequential(
    jobs: Sequence[TrainJob],
    cfg: ModelConfig,
    x: np.ndarray,
    y: np.ndarray,
    verbose: int = 0,
    on_result: Callable[[TrainResult], None] | None = None,
    steps_per_execution: int | None = None,
) -> list[TrainResult]:
    """:func:`train_one` for each job in this process, one after the other (the benchmarks' baseline).

    ``on_result`` is called as each model finishes.
    """
    results = []
    for job in jobs:
        result = train_one(job, cfg, x, y, verbose=verbose, steps_per_execution=steps_per_execution)
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
