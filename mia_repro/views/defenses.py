"""Output-side defenses (Shokri et al., Section VI): post-process prediction vectors.

Each takes float probabilities (N, C) and returns float32 (N, C).  They are
applied to everything a model exposes, so the shadows (what an aware attacker
trains on) and the target (what is attacked) are treated alike.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def _check(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"expected prediction vectors of shape (N, C), got {probs.shape}")
    return probs


def top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` largest entries of each row, zero the rest, renormalize to sum 1.

    ``k = 1`` reveals only the predicted label (a one-hot vector).
    """
    probs = _check(probs)
    if not 1 <= k <= probs.shape[1]:
        raise ValueError(f"k must be in 1..{probs.shape[1]}, got {k}")
    keep = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(probs)
    rows = np.arange(len(probs))[:, None]
    out[rows, keep] = probs[rows, keep]
    total = out.sum(axis=1, keepdims=True)
    return (out / np.where(total > 0, total, 1.0)).astype(np.float32)


def rounding(probs: np.ndarray, decimals: int) -> np.ndarray:
    """Round every entry to ``decimals`` decimal places (no renormalization)."""
    return np.round(_check(probs), int(decimals)).astype(np.float32)


def temperature(probs: np.ndarray, t: float) -> np.ndarray:
    """Soften with temperature ``t`` > 0: softmax(log(p) / t), i.e. p**(1/t) renormalized.

    ``t > 1`` raises the entropy; the argmax (the predicted label) is kept.
    """
    if t <= 0:
        raise ValueError(f"temperature must be positive, got {t}")
    logp = np.log(np.clip(_check(probs), 1e-30, None)) / t
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


OUTPUT_DEFENSES: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "topk": lambda p, s: top_k(p, int(s)),
    "rounding": lambda p, s: rounding(p, int(s)),
    "temperature": lambda p, s: temperature(p, float(s)),
}


def output_defense(name: str, strength: float) -> Callable[[np.ndarray], np.ndarray]:
    """The defense ``name`` ("topk", "rounding", "temperature") at ``strength`` as a function of probs."""
    if name not in OUTPUT_DEFENSES:
        raise ValueError(f"unknown output defense {name!r}; choose one of {', '.join(OUTPUT_DEFENSES)}")
    fn = OUTPUT_DEFENSES[name]
    return lambda probs: fn(probs, strength)
