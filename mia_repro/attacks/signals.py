"""The signals attacks read from a model's outputs: log-softmax, cross-entropy and the logit-scaled confidence
of Carlini et al. (IEEE S&P 2022, Sec. IV-C), all from logits in float64 (probabilities rounded to float32
tie on overfit models).

>>> import numpy as np
>>> z = np.array([[2.0, 0.0, 0.0]])
>>> float(np.exp(log_softmax(z)).sum()), round(float(cross_entropy(z, np.array([0]))[0]), 6)
(1.0, 0.239545)
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """float64 (N, C) log-probabilities of float logits (N, C)."""
    z = np.asarray(logits, dtype=np.float64)
    return z - logsumexp(z, axis=-1, keepdims=True)


def _true(values: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    return np.take_along_axis(values, np.asarray(true_class)[..., None], axis=-1)[..., 0]


def cross_entropy(logits: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """float64 (..., N): the loss ``-log p_y``; ``logits`` (..., N, C), ``true_class`` int (N,).

    Computed as ``softplus(-phi)`` with ``phi`` the logit-scaled confidence
    (:func:`logit_confidence`), i.e. ``log(1 + sum_{j != y} exp(z_j - z_y))``:
    accurate to float64's relative precision even where the loss is far below
    1e-16 (``logsumexp(z) - z_y`` rounds those to exactly 0, which tied
    hundreds of overfit records).
    """
    return np.logaddexp(0.0, -logit_confidence(logits, true_class))


def logit_confidence(logits: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """float64 (..., N): LiRA's logit-scaled confidence ``log p_y - log(1 - p_y)``.

    Computed as ``z_y - logsumexp_{j != y} z_j`` (Carlini et al. 2022, Sec. IV-B),
    which stays finite where ``p_y`` rounds to 1.0 in float32.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.broadcast_to(true_class, z.shape[:-1])
    others = np.where(np.arange(z.shape[-1]) == y[..., None], -np.inf, z)
    return _true(z, y) - logsumexp(others, axis=-1)


__all__ = ["cross_entropy", "log_softmax", "logit_confidence"]
