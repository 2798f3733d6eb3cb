"""DP-SGD and its one-run audit for a model of your own.

:func:`train_dp_sgd` trains any Keras model that outputs **logits** with the package's DP-SGD
(:func:`mia_repro.training.dp_sgd.dp_fit`: Poisson sampling, per-example clipping, Gaussian noise σC,
the accountant's ε from ``dp-accounting``), optionally with white-box canaries; :func:`audit_dp_run` turns
the canaries into a valid ε lower bound (:func:`mia_repro.one_run_audit.one_run_audit`).

Which models: per-example gradients are taken one example at a time (vectorized), so a layer whose output
for one example depends on the others in its batch (BatchNormalization in training mode) breaks the
per-example sensitivity DP-SGD relies on and is refused; dropout and every per-example layer are fine.
Backends: TensorFlow and JAX (:mod:`mia_repro.training.dp_grads`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mia_repro.errors import MiaReproError
from mia_repro.models.config import DPConfig
from mia_repro.one_run_audit import one_run_audit
from mia_repro.quiet import keras


class OwnDPInputError(MiaReproError, ValueError):
    """A model or data that :func:`train_dp_sgd` cannot train with DP-SGD."""


@dataclass
class DPRun:
    """What :func:`train_dp_sgd` did: ``schedule`` (σ, q, steps, C, δ and both ε, as
    :class:`mia_repro.privacy.Schedule`'s dict), ``history`` (per-epoch loss, accuracy, clipped fraction,
    computed without noise: outside the guarantee) and ``canaries`` (their record, or None)."""

    schedule: dict
    history: dict
    canaries: dict | None


def _check(model, x, y, dp, epochs, batch_size) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(model, keras.Model):
        raise OwnDPInputError(f"model: expected a keras.Model that outputs logits, got {type(model).__name__}")
    if any(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers()):
        raise OwnDPInputError("model: BatchNormalization mixes the examples of a batch, so per-example clipping "
                              "does not bound one example's influence; use LayerNormalization or GroupNormalization")
    if not isinstance(dp, DPConfig):
        raise OwnDPInputError(f"dp: expected a mia_repro.models.config.DPConfig, got {type(dp).__name__}")
    x = np.asarray(x)
    if x.dtype.kind != "f" or not np.isfinite(x).all() or len(x) < 2:
        raise OwnDPInputError("x: expected a finite float array of at least 2 model inputs (preprocessed as the "
                              "model expects)")
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.shape != (len(x),):
        raise OwnDPInputError(f"y: expected integer class labels of shape ({len(x)},), got {y.dtype} {y.shape}")
    out = model(x[:1])
    classes = int(out.shape[-1])
    if y.min() < 0 or y.max() >= classes:
        raise OwnDPInputError(f"y: labels must lie in 0..{classes - 1} (the model has {classes} outputs)")
    if not (isinstance(epochs, int) and epochs >= 1 and isinstance(batch_size, int) and 1 <= batch_size <= len(x)):
        raise OwnDPInputError(f"epochs and batch_size: expected integers >= 1, batch_size <= {len(x)}")
    return x.astype(np.float32), y.astype(np.int32)


def train_dp_sgd(model, x, y, dp: DPConfig, epochs: int, batch_size: int = 32, seed: int = 0,
                 learning_rate: float = 1e-3, verbose: int = 0) -> DPRun:
    """Train ``model`` (outputs logits (B, C)) in place on ``x`` float (n, ...), ``y`` int (n,) with DP-SGD
    ``dp`` (``dp.optimizer`` at ``learning_rate``); each step's expected batch is ``batch_size``."""
    from mia_repro.attacks.base import cross_entropy
    from mia_repro.training.dp_sgd import dp_fit, make_optimizer

    xs, ys = _check(model, x, y, dp, epochs, batch_size)

    def evaluate() -> tuple[float, float]:
        logits = np.concatenate([np.asarray(model(xs[i:i + 512]), np.float64) for i in range(0, len(xs), 512)])
        return float(cross_entropy(logits, ys).mean()), float((logits.argmax(1) == ys).mean())

    schedule, history, canaries = dp_fit(model, xs, ys, dp, epochs, batch_size, int(seed),
                                         make_optimizer(dp.optimizer, learning_rate), evaluate, verbose, "own model")
    return DPRun(schedule.to_dict(), history, canaries.record() if canaries is not None else None)


def audit_dp_run(run: DPRun, confidence: float = 0.95) -> dict:
    """The one-run ε lower bound from ``run``'s canaries (:func:`~mia_repro.one_run_audit.one_run_audit`),
    with the accountant's ε beside it (``claimed_epsilon``)."""
    if run.canaries is None:
        raise OwnDPInputError("this run has no canaries: train with DPConfig(canaries=...) to audit it")
    result = one_run_audit(np.asarray(run.canaries["included"], bool), np.asarray(run.canaries["score"]),
                           run.schedule["delta"], confidence)
    return {**{k: v for k, v in result.items() if k != "rows"}, "claimed_epsilon": run.schedule["epsilon"]}
