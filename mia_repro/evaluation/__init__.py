"""Judging attacks on the target's membership: :mod:`.metrics` (AUC, TPR at FPR with intervals, the ROC curve),
:mod:`.results` (:class:`AttackResult`, :class:`AttackResults`), :mod:`.evaluate` (fit, score, judge:
:func:`run_attacks` for a model of one's own) and :mod:`.pool` (leave-one-out on a reference pool, the power
curve, per-record reproducibility, precision at priors, p-values and members at a false-discovery rate).

The names below are loaded when first used, so that importing :mod:`mia_repro.evaluation.metrics` alone
does not import the attacks.
"""
import importlib

_HOME = {
    **dict.fromkeys(("AttackResult", "AttackResults", "SCORE_ARRAYS", "jsonable", "published_threshold"), "results"),
    **dict.fromkeys(("BOOTSTRAP", "evaluate_attack", "evaluate_view", "resolve_attacks", "run_attacks"), "evaluate"),
    **dict.fromkeys(("pvalues", "members_at_fdr"), "pool"),
    **dict.fromkeys(("AttackMetrics", "Metric", "RocCurve", "attack_metrics"), "metrics"),
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'mia_repro.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mia_repro.evaluation.{_HOME[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(_HOME))
