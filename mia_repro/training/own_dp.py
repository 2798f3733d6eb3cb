"""DP-SGD and its one-run audit for a model of your own.

:func:`train_dp_sgd` trains any Keras model that outputs **logits** with the package's DP-SGD
(:func:`mia_repro.training.dp_sgd.dp_fit`: Poisson sampling, per-example clipping, Gaussian noise σC,
the accountant's ε from ``dp-accounting``), optionally with white-box canaries; :func:`audit_dp_run` turns
the canaries into a valid ε lower bound (:func:`mia_repro.privacy.one_run.one_run_audit`) and says whether it
exceeds the claim.  Before training, a run with canaries knows the most ε they can prove (every guess right,
:func:`mia_repro.privacy.ceiling.steinke_cap`): when that cap is not above the claimed ε, no outcome of the
audit could show the claim broken, and :func:`train_dp_sgd` warns (:class:`AuditCeilingWarning`) before it
trains.

Which models: per-example gradients are taken one example at a time (vectorized), so a layer whose output
for one example depends on the others in its batch (BatchNormalization in training mode) breaks the
per-example sensitivity DP-SGD relies on and is refused; dropout and every per-example layer are fine.
Backends: TensorFlow and JAX (:mod:`mia_repro.training.dp_grads`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mia_repro.base.errors import MiaReproError
from mia_repro.models.config import DPConfig
from mia_repro.privacy.one_run import one_run_audit
from mia_repro.base.quiet import keras


class OwnDPInputError(MiaReproError, ValueError):
    """A model or data that :func:`train_dp_sgd` cannot train with DP-SGD."""


class AuditCeilingWarning(UserWarning):
    """The run's canaries cannot prove its claimed ε even with every guess right."""


@dataclass
class DPRun:
    """What :func:`train_dp_sgd` did: ``schedule`` (σ, q, steps, C, δ and both ε, as
    :class:`mia_repro.privacy.accounting.Schedule`'s dict), ``history`` (per-epoch loss, accuracy, clipped fraction,
    computed without noise: outside the guarantee), ``canaries`` (their record, or None) and
    ``epsilon_cap`` (the most ε its canaries can prove at 95% confidence; None without canaries)."""

    schedule: dict
    history: dict
    canaries: dict | None
    epsilon_cap: float | None = None


def _check(model, x, y, dp, epochs, batch_size, learning_rate=1e-3) -> tuple[np.ndarray, np.ndarray]:
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
    want = _input_shape(model)
    if want is not None and (len(want) != x.ndim - 1 or any(w is not None and w != g for w, g in zip(want, x.shape[1:]))):
        raise OwnDPInputError(f"x: the model takes inputs of shape {tuple(want)} per example, x has {x.shape[1:]}")
    try:
        out = np.asarray(model(x[: min(len(x), 64)]), np.float64)
    except Exception as exc:  # the backend's own error on inputs the model cannot take: one line of it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OwnDPInputError(f"x: the model cannot take inputs of shape {x.shape[1:]} ({first})") from None
    if _outputs_probabilities(model, out):
        raise OwnDPInputError("model: its outputs are probabilities (a final softmax); DP-SGD's loss needs logits: "
                              "build the last layer with activation=None (keep the softmax for prediction only)")
    classes = int(out.shape[-1])
    if y.min() < 0 or y.max() >= classes:
        raise OwnDPInputError(f"y: labels must lie in 0..{classes - 1} (the model has {classes} outputs)")
    if not (isinstance(epochs, int) and epochs >= 1 and isinstance(batch_size, int) and 1 <= batch_size <= len(x)):
        raise OwnDPInputError(f"epochs and batch_size: expected integers >= 1, batch_size <= {len(x)}")
    parameters = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    if dp.canaries > parameters:
        raise OwnDPInputError(f"dp.canaries: {dp.canaries} white-box canaries need as many trainable parameters (one "
                              f"each); the model has {parameters}: use at most {parameters}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.integer, np.floating)) \
            or not 0 < float(learning_rate) < np.inf:
        raise OwnDPInputError(f"learning_rate: expected a positive finite number, got {learning_rate!r}")
    return x.astype(np.float32), y.astype(np.int32)


def _input_shape(model) -> tuple | None:
    """The per-example input shape a functional or built model declares, or None when it declares none."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        return None
    return tuple(inputs[0].shape[1:])


def _outputs_probabilities(model, out: np.ndarray) -> bool:
    """Whether ``model`` ends in a softmax (its last layer's activation, or a Softmax layer) or its outputs
    ``out`` (B, C) look like probabilities: every row non-negative and summing to 1."""
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if activation == "softmax" or isinstance(last, keras.layers.Softmax):
        return True
    return out.ndim == 2 and out.shape[1] > 1 and bool((out >= 0).all() and np.allclose(out.sum(1), 1.0, atol=1e-5))


def train_dp_sgd(model, x, y, dp: DPConfig, epochs: int, batch_size: int = 32, seed: int = 0,
                 learning_rate: float = 1e-3, verbose: int = 0) -> DPRun:
    """Train ``model`` (outputs logits (B, C)) in place on ``x`` float (n, ...), ``y`` int (n,) with DP-SGD
    ``dp`` (``dp.optimizer`` at ``learning_rate``); each step's expected batch is ``batch_size``."""
    from mia_repro.attacks.signals import cross_entropy
    from mia_repro.training.dp_sgd import dp_fit, make_optimizer

    xs, ys = _check(model, x, y, dp, epochs, batch_size, learning_rate)
    cap: list[float | None] = []

    def before_training(schedule, canaries) -> None:  # the canaries are drawn and σ is known: check the cap
        cap.append(_announce_cap(model, schedule, canaries))

    def evaluate() -> tuple[float, float]:
        logits = np.concatenate([np.asarray(model(xs[i:i + 512]), np.float64) for i in range(0, len(xs), 512)])
        return float(cross_entropy(logits, ys).mean()), float((logits.argmax(1) == ys).mean())

    schedule, history, canaries = dp_fit(model, xs, ys, dp, epochs, batch_size, int(seed),
                                         make_optimizer(dp.optimizer, learning_rate), evaluate, verbose, "own model",
                                         before_training=before_training)
    return DPRun(schedule.to_dict(), history, canaries.record() if canaries is not None else None, cap[0])


def _announce_cap(model, schedule, canaries) -> float | None:
    """The most ε the run's ``canaries`` can prove (drawn, not yet trained on), with an
    :class:`AuditCeilingWarning` when it is not above the ε of ``schedule``; None without canaries."""
    import warnings

    from mia_repro.privacy.ceiling import steinke_cap

    if canaries is None:
        return None
    m = len(canaries.included)
    cap = steinke_cap(m, schedule.delta, 0.95, int(canaries.included.sum()))
    if not cap > schedule.epsilon:
        total = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        warnings.warn(AuditCeilingWarning(
            f"the most ε that {m} canaries can prove is {cap:.2f} (every guess right, 95% confidence), "
            f"not above the claimed ε = {schedule.epsilon:.2f}: no outcome of this audit can show the claim broken; "
            f"use more canaries (each needs one trainable parameter; the model has {total})"), stacklevel=5)
    return cap


def audit_dp_run(run: DPRun, confidence: float = 0.95) -> dict:
    """The one-run ε lower bound from ``run``'s canaries (:func:`~mia_repro.privacy.one_run.one_run_audit`, the
    sum score), with the accountant's ε beside it (``claimed_epsilon``), ``exceeds_claim`` (the bound above
    it), ``epsilon_cap`` (the most these canaries can prove at ``confidence``: every guess right) and
    ``lr_epsilon_lower_bound`` (the same bound from the likelihood-ratio score; None at σ = 0)."""
    if not isinstance(run, DPRun):
        raise OwnDPInputError(f"run: expected what train_dp_sgd returned (a DPRun), got {type(run).__name__}")
    if run.canaries is None:
        raise OwnDPInputError("this run has no canaries: train with DPConfig(canaries=...) to audit it")
    from mia_repro.privacy.ceiling import steinke_cap

    included = np.asarray(run.canaries["included"], bool)
    delta = run.schedule["delta"]
    result = one_run_audit(included, np.asarray(run.canaries["score"]), delta, confidence)
    lr = run.canaries.get("lr_score")
    claimed = float(run.schedule["epsilon"])
    return {**{k: v for k, v in result.items() if k != "rows"}, "claimed_epsilon": claimed,
            "exceeds_claim": bool(result["epsilon_lower_bound"] > claimed),
            "epsilon_cap": steinke_cap(len(included), delta, confidence, int(included.sum())),
            "lr_epsilon_lower_bound": None if lr is None else
            one_run_audit(included, np.asarray(lr), delta, confidence)["epsilon_lower_bound"]}
