"""The training entry point: train a list of same-architecture models.

:func:`train_models` takes K :class:`TrainJob` (each its own members,
non-members and seed) and returns K :class:`TrainResult`.  It dispatches to
one of two trainers with the same contract:

* ``sequential`` — one ordinary Keras model at a time (CPU, any backend);
* ``stacked`` — all K models in one graph (:mod:`mia_repro.stacked`), for GPUs.

:func:`choose_trainer` makes the automatic choice and says why.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import keras
import numpy as np

from .config import ModelConfig
from .data import InputError, to_model_input
from .inference import predict_batched
from .models import build_cnn


@dataclass(frozen=True)
class TrainJob:
    """One model to train: ``members`` (train) and ``nonmembers`` (held out),
    int64 index arrays into the pooled dataset, and the model's ``seed``."""

    name: str
    members: np.ndarray
    nonmembers: np.ndarray
    seed: int

    @property
    def eval_indices(self) -> np.ndarray:
        """Members then non-members, int64 (2n,)."""
        return np.concatenate([self.members, self.nonmembers])


@dataclass
class TrainResult:
    """What Stage I keeps of a trained model.

    ``probs`` float32 (n_members + n_nonmembers, num_classes): softmax output
    for members then non-members; ``history``: per-epoch lists (``loss``,
    ``accuracy``); ``weights``: the arrays of ``build_cnn(cfg).get_weights()``.
    """

    name: str
    probs: np.ndarray
    history: dict[str, list[float]]
    weights: list[np.ndarray]
    seconds: float
    trainer: str = "sequential"
    extra: dict = field(default_factory=dict)


def backend_info() -> dict[str, str]:
    """The Keras backend and the device kind it computes on ("cpu" / "gpu")."""
    backend = keras.backend.backend()
    device = "cpu"
    if backend == "jax":
        import jax

        device = jax.devices()[0].platform
    elif backend == "torch":
        import torch

        device = "gpu" if torch.cuda.is_available() else "cpu"
    return {"backend": backend, "device": device}


def machine_info() -> dict[str, str]:
    """:func:`backend_info` plus ``device_name`` (the GPU's name, or the CPU's model and core count) and the
    Keras version: what Stage I records in each model's file as the machine that trained it."""
    info = backend_info()
    name = ""
    if info["device"] == "gpu" and info["backend"] == "jax":
        import jax

        name = jax.devices()[0].device_kind
    elif info["device"] == "gpu" and info["backend"] == "torch":
        import torch

        name = torch.cuda.get_device_name(0)
    else:
        try:
            with open("/proc/cpuinfo") as fh:
                name = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
        except OSError:
            pass
        name = f"{name or platform.processor() or platform.machine()} ({os.cpu_count()} cores)"
    return {**info, "device_name": name, "keras": keras.__version__}


def choose_trainer(requested: str = "auto") -> tuple[str, str]:
    """Return ``(trainer, reason)`` for ``requested`` in auto/stacked/sequential."""
    if requested not in ("auto", "stacked", "sequential"):
        raise ValueError(f"unknown trainer {requested!r}; use auto, stacked or sequential")
    if requested != "auto":
        return requested, f"forced by config (trainer={requested!r})"
    info = backend_info()
    if info["device"] == "gpu" and info["backend"] in ("jax", "torch"):
        return "stacked", f"{info['backend']} backend on GPU: all models of a size in one graph"
    return "sequential", (
        f"{info['backend']} backend on {info['device']}: one model at a time "
        "(grouped convolutions of the stacked graph are slow on CPU)"
    )


def default_steps_per_execution(trainer: str) -> int:
    """Training steps per call into the backend when the config leaves it open (``None``).

    ``sequential``: 1 (Keras-TF on this project's 2-core CPU, deterministic kernels: 32 and 128 steps
    per call were 1.06x and 1.08x *slower*, ``python -m mia_repro.bench --steps-per-execution 1 32 128
    --k 1 --n 5000 --epochs 3``); ``stacked``: 8 on JAX, 1 otherwise.
    """
    if trainer == "stacked" and keras.backend.backend() == "jax":
        return 8
    return 1


def train_sequential(
    jobs: Sequence[TrainJob],
    cfg: ModelConfig,
    x: np.ndarray,
    y: np.ndarray,
    verbose: int = 0,
    on_result: Callable[[TrainResult], None] | None = None,
    steps_per_execution: int | None = None,
) -> list[TrainResult]:
    """Train each job as an ordinary Keras model, one after the other.

    ``x`` uint8 (N, 32, 32, 3), ``y`` int (N,).  ``on_result`` is called as each
    model finishes (Stage I uses it to cache, so an interruption loses at most
    one model).  ``steps_per_execution`` (default
    :func:`default_steps_per_execution`) is kept in each result's ``extra``.
    """
    if steps_per_execution is None:
        steps_per_execution = default_steps_per_execution("sequential")
    results = []
    for job in jobs:
        start = time.perf_counter()
        keras.utils.set_random_seed(job.seed)
        model = build_cnn(cfg, seed=job.seed, steps_per_execution=steps_per_execution)
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
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


def check_training_inputs(jobs: Sequence[TrainJob], cfg: ModelConfig, x: np.ndarray, y: np.ndarray) -> None:
    """:class:`~mia_repro.data.InputError` unless ``x`` is uint8 (N, 32, 32, 3), ``y`` integer classes
    (N,) in 0..num_classes-1, and every job's indices are in range with members and non-members disjoint."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != tuple(cfg.input_shape):
        raise InputError(f"expected uint8 images (N, {', '.join(map(str, cfg.input_shape))}), got {x.dtype} {x.shape}; "
                         "pass the raw pixels, not scaled floats")
    if not np.issubdtype(y.dtype, np.integer) or y.shape != (len(x),):
        raise InputError(f"expected integer class labels of shape ({len(x)},), got {y.dtype} {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= cfg.num_classes):
        raise InputError(f"labels must lie in 0..{cfg.num_classes - 1}, got {y.min()}..{y.max()}")
    for job in jobs:
        idx = np.concatenate([job.members, job.nonmembers])
        if len(idx) and (idx.min() < 0 or idx.max() >= len(x)):
            raise InputError(f"job {job.name}: indices outside 0..{len(x) - 1}")
        if np.intersect1d(job.members, job.nonmembers).size:
            raise InputError(f"job {job.name}: {np.intersect1d(job.members, job.nonmembers).size} records are both "
                             "members and non-members")


def train_models(
    jobs: Sequence[TrainJob],
    cfg: ModelConfig,
    x: np.ndarray,
    y: np.ndarray,
    trainer: str = "auto",
    verbose: int = 0,
    on_result: Callable[[TrainResult], None] | None = None,
    steps_per_execution: int | None = None,
) -> list[TrainResult]:
    """Train K same-architecture models; the entry point Stage I and mitigation use.

    Returns one :class:`TrainResult` per job, in order.  ``trainer`` is
    "auto", "stacked" or "sequential" (see :func:`choose_trainer`);
    ``steps_per_execution`` None is :func:`default_steps_per_execution` of that trainer.
    """
    if len(jobs) == 0:
        return []
    check_training_inputs(jobs, cfg, x, y)
    kind, _ = choose_trainer(trainer)
    if kind == "stacked":
        from .stacked import train_stacked

        results = train_stacked(jobs, cfg, x, y, verbose=verbose, steps_per_execution=steps_per_execution)
        if on_result is not None:
            for r in results:
                on_result(r)
        return results
    return train_sequential(jobs, cfg, x, y, verbose=verbose, on_result=on_result, steps_per_execution=steps_per_execution)
