"""Attack metrics, built on ``sklearn.metrics``.

Throughout, the positive class is **member** (1); non-member is 0.  ``score``
is any number that is larger for "more likely a member" (an SVM decision
function, a confidence); ``pred`` is the attack's 0/1 decision.
"""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

FPR_LEVELS = {"tpr_at_1pct_fpr": 0.01, "tpr_at_0.1pct_fpr": 0.001}


def tpr_at_fpr(member: np.ndarray, score: np.ndarray, fpr_level: float) -> float:
    """Largest true-positive rate (members caught) at false-positive rate <= ``fpr_level``.

    ``member`` bool (N,), ``score`` float (N,).  NaN if either class is absent.
    """
    member = np.asarray(member, dtype=bool)
    if member.all() or not member.any():
        return float("nan")
    fpr, tpr, _ = skm.roc_curve(member, score)
    ok = fpr <= fpr_level
    return float(tpr[ok].max()) if ok.any() else 0.0


def attack_metrics(member: np.ndarray, score: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall, accuracy, ROC AUC, TPR at 1% / 0.1% FPR and advantage.

    ``member`` bool (N,) ground truth (positive = member); ``score`` float (N,)
    attack score; ``pred`` int 0/1 (N,) attack decision.  ``advantage`` is
    TPR - FPR of ``pred``.  AUC and TPR@FPR are NaN when only one class occurs.
    """
    member = np.asarray(member, dtype=bool)
    pred = np.asarray(pred).astype(int)
    score = np.asarray(score, dtype=np.float64)
    if not (member.shape == pred.shape == score.shape) or member.ndim != 1:
        raise ValueError(f"member, score, pred must be 1-D of one length, got {member.shape}, {score.shape}, {pred.shape}")
    both = member.any() and not member.all()
    tpr = float(pred[member].mean()) if member.any() else float("nan")
    fpr = float(pred[~member].mean()) if (~member).any() else float("nan")
    out = {
        "precision": float(skm.precision_score(member, pred, zero_division=0)),
        "recall": float(skm.recall_score(member, pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(member, pred)),
        "auc": float(skm.roc_auc_score(member, score)) if both else float("nan"),
    }
    for key, level in FPR_LEVELS.items():
        out[key] = tpr_at_fpr(member, score, level)
    out["advantage"] = tpr - fpr
    return out


def metrics_by_class(
    member: np.ndarray, true_class: np.ndarray, score: np.ndarray, pred: np.ndarray, num_classes: int = 10
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Overall metrics and per-class lists (index = true class) of the same.

    Returns ``(overall, per_class)`` where ``per_class[key]`` has ``num_classes``
    floats (NaN for a class with no records).
    """
    overall = attack_metrics(member, score, pred)
    per_class: dict[str, list[float]] = {k: [] for k in overall}
    for c in range(num_classes):
        sel = np.asarray(true_class) == c
        m = attack_metrics(member[sel], score[sel], pred[sel]) if sel.any() else {k: float("nan") for k in overall}
        for k in overall:
            per_class[k].append(m[k])
    return overall, per_class
