"""What a training job is and what it returns, and the facts about the machine that ran it.

:class:`TrainJob` (members, non-members, seed) in, :class:`TrainResult`
(softmax outputs, history, weights) out: the contract of both trainers
(:mod:`.sequential`, :mod:`.stacked`).  :func:`choose_trainer` picks one and
says why; :func:`machine_info` is what each model's file records about who
trained it.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Sequence

from mia_repro.base.quiet import keras
import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import InputError


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


def cpu_vector_isa(cpuinfo: str | None = None) -> str:
    """The widest x86 vector instruction set the CPU reports (``/proc/cpuinfo`` flags, or ``cpuinfo`` text):
    "avx512", "avx2", "avx", "sse" or "unknown".  oneDNN picks its kernels by it, so two CPUs that differ here
    train the same seed to other bits even at the same thread count."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as fh:
                cpuinfo = fh.read()
        except OSError:
            return "unknown"
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))
    for isa, flag in (("avx512", "avx512f"), ("avx2", "avx2"), ("avx", "avx"), ("sse", "sse2")):
        if flag in flags:
            return isa
    return "unknown"


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
    per call were 1.06x and 1.08x *slower*, ``python -m mia_repro.tools.bench --steps-per-execution 1 32 128
    --k 1 --n 5000 --epochs 3``); ``stacked``: 8 on JAX, 1 otherwise.
    """
    if trainer == "stacked" and keras.backend.backend() == "jax":
        return 8
    return 1


def check_training_inputs(jobs: Sequence[TrainJob], cfg: ModelConfig, x: np.ndarray, y: np.ndarray) -> None:
    """:class:`~mia_repro.data.cifar10.InputError` unless ``x`` is uint8 (N, 32, 32, 3), ``y`` integer classes
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
