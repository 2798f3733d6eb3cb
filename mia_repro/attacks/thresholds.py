"""Thresholds chosen on the attacker's labelled data (never the target's membership): the balanced-accuracy
threshold of Shokri's and the threshold attacks, and the threshold for a false-positive rate of the
reference-model attacks.  Decisions are ``score >= threshold`` everywhere.

>>> import numpy as np
>>> member, score = np.array([True, True, False, False]), np.array([0.9, 0.8, 0.7, 0.1])
>>> balanced_threshold(member, score), fpr_threshold(member, score, 0.0) > 0.7
(0.8, True)
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve


def balanced_threshold(member: np.ndarray, score: np.ndarray) -> float:
    """The threshold ``t`` (decision ``score >= t``) that maximizes balanced accuracy on labelled data.

    ``member`` bool (N,), ``score`` float (N,).  Balanced accuracy, (TPR + TNR) / 2,
    because simulated data are not balanced (few population records are members).
    """
    member = np.asarray(member, dtype=bool)
    if member.all() or not member.any():
        raise ValueError("choosing a threshold needs members and non-members in the attacker's data")
    fpr, tpr, thr = roc_curve(member, score)
    best = int(np.argmax(tpr - fpr))
    return float(thr[best]) if np.isfinite(thr[best]) else float(np.max(score))


def fpr_threshold(member: np.ndarray, score: np.ndarray, fpr: float) -> float:
    """The smallest threshold ``t`` (decision ``score >= t``) at which at most a share ``fpr`` of the
    non-members of labelled data (``member`` bool (N,), ``score`` float (N,)) is called a member: the
    threshold an attacker sets on its references for a target false-positive rate."""
    member = np.asarray(member, dtype=bool)
    out = np.sort(np.asarray(score, np.float64)[~member])[::-1]
    if not len(out):
        raise ValueError("choosing a threshold for a false-positive rate needs non-members in the attacker's data")
    allowed = int(np.floor(fpr * len(out) + 1e-9))  # false positives allowed
    if allowed >= len(out):
        return float(out[-1])
    # above the (allowed+1)-th largest non-member score; ties at that score are all excluded
    return float(np.nextafter(out[allowed], np.inf))


__all__ = ["balanced_threshold", "fpr_threshold"]
