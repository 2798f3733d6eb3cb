"""Attack metrics, built on ``sklearn.metrics``.

Throughout, the positive class is **member** (1); non-member is 0.  ``score``
is any number that is larger for "more likely a member" (an SVM decision
function, a confidence); ``pred`` is the attack's 0/1 decision.

Two advantages, named for what they are:

* ``advantage_at_decision`` = TPR - FPR of the attack's own decision ``pred``;
* ``advantage_max`` = max over all thresholds on ``score`` of TPR - FPR (what
  TF Privacy reports as "attacker advantage").

Low-FPR figures (``tpr_at_1pct_fpr``, ``tpr_at_0.1pct_fpr``,
``tpr_at_0pct_fpr``) come with the number of non-members behind them
(``n_nonmembers``; at FPR level f at most ``floor(f * n_nonmembers)`` false
positives are allowed, ``fp_allowed``) and, when asked, a seeded bootstrap
95% interval (members and non-members resampled separately).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from sklearn import metrics as skm

from mia_repro.base.errors import MiaReproInputError
from mia_repro.evaluation.roc import (  # the curve and the checks every metric starts from (re-exported)
    MetricInputError, RocCurve, check_fpr_level, check_member_score, max_advantage, tpr_at_fpr,
)


class Metric(str, Enum):
    """The name of every number :func:`attack_metrics` publishes, as it is spelled in the JSON.

    A member is its string (``Metric.AUC == "auc"``, one hash, ``f"{m}"`` and ``json`` write the value), so a
    dict read from a results file answers ``block[Metric.TPR_AT_0_1PCT_FPR]``.  ``fpr_level`` is the
    false-positive rate of a TPR-at-FPR metric (None for the others); ``ci95`` the key of its interval.

    >>> Metric.TPR_AT_0_1PCT_FPR.fpr_level, Metric.TPR_AT_0_1PCT_FPR.ci95, f"{Metric.AUC}"
    (0.001, 'tpr_at_0.1pct_fpr_ci95', 'auc')
    """

    PRECISION = "precision"
    RECALL = "recall"
    ACCURACY = "accuracy"
    BALANCED_ACCURACY = "balanced_accuracy"
    AUC = "auc"
    TPR_AT_1PCT_FPR = "tpr_at_1pct_fpr"
    TPR_AT_0_1PCT_FPR = "tpr_at_0.1pct_fpr"
    TPR_AT_0PCT_FPR = "tpr_at_0pct_fpr"
    ADVANTAGE_AT_DECISION = "advantage_at_decision"
    ADVANTAGE_MAX = "advantage_max"

    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__

    @property
    def fpr_level(self) -> float | None:
        return _LEVEL_OF.get(self)

    @property
    def ci95(self) -> str:
        """The key of this metric's bootstrap interval in the JSON (``<value>_ci95``)."""
        return f"{self.value}_ci95"


_LEVEL_OF = {Metric.TPR_AT_1PCT_FPR: 0.01, Metric.TPR_AT_0_1PCT_FPR: 0.001, Metric.TPR_AT_0PCT_FPR: 0.0}
#: the TPR-at-FPR metrics and their false-positive rates, in the order the JSON lists them
FPR_LEVELS = {m: m.fpr_level for m in Metric if m.fpr_level is not None}


def auc_interval(auc: float, n_members: int, n_nonmembers: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The normal-approximation 95% interval of a ROC AUC from its value and the class counts alone: Hanley
    & McNeil (1982), *Radiology* 143:29, eq. 2 -- SE² = (A(1−A) + (n₁−1)(Q₁−A²) + (n₂−1)(Q₂−A²)) / (n₁n₂) with
    Q₁ = A/(2−A), Q₂ = 2A²/(1+A); clipped to [0, 1].  For tables and figures of stored results that keep the
    AUC and the counts but not the scores (the mitigation rows)."""
    a, n1, n2 = float(auc), int(n_members), int(n_nonmembers)
    if not (0.0 <= a <= 1.0) or n1 < 1 or n2 < 1:
        raise MiaReproInputError(f"auc_interval: expected an AUC in [0, 1] and positive counts, got {auc!r}, "
                                 f"{n_members!r}, {n_nonmembers!r}")
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt(max(a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a), 0.0) / (n1 * n2))
    return max(0.0, a - z * se), min(1.0, a + z * se)


def bootstrap_tpr_intervals(member: np.ndarray, score: np.ndarray, n_boot: int = 200, seed: int = 0,
                            levels: dict[str, float] = FPR_LEVELS) -> dict[str, list[float]]:
    """Seeded bootstrap 95% intervals ``[lo, hi]`` of each TPR at FPR level in ``levels``.

    Members and non-members are resampled separately (their counts fixed), so
    every resample has both classes.  Same ``seed`` -> same intervals.  Each
    resample's TPR is that of ``sklearn.metrics.roc_curve`` on it, to the bit
    (:func:`_resample_tprs` counts the curve's points instead of sorting).
    """
    member, score = check_member_score(member, score)
    levels = {k: check_fpr_level(v) for k, v in levels.items()}
    pos, neg = np.flatnonzero(member), np.flatnonzero(~member)
    distinct, rank = np.unique(score, return_inverse=True)  # rank of each record's score among the distinct ones
    rank = len(distinct) - 1 - rank.ravel()  # 0 = the largest score: the curve's first threshold
    rng = np.random.default_rng(seed)
    draws = {k: [] for k in levels}
    for _ in range(n_boot):
        p_draw, n_draw = rng.choice(pos, len(pos)), rng.choice(neg, len(neg))
        for k, tpr in _resample_tprs(rank[p_draw], rank[n_draw], len(distinct), levels).items():
            draws[k].append(tpr)
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in draws.items()}


def _resample_tprs(pos_rank: np.ndarray, neg_rank: np.ndarray, n_distinct: int,
                   levels: dict[str, float]) -> dict[str, float]:
    """Largest TPR at FPR <= each level on the ROC curve of one resample, given as the descending ranks of its
    members' and non-members' scores: the points ``sklearn.metrics.roc_curve`` keeps (one per distinct score
    present, collinear ones dropped, (0, 0) first), in the same float64 arithmetic."""
    tp, fp = np.bincount(pos_rank, minlength=n_distinct), np.bincount(neg_rank, minlength=n_distinct)
    present = (tp + fp) > 0
    tps, fps = np.cumsum(tp)[present].astype(np.float64), np.cumsum(fp)[present].astype(np.float64)
    if len(fps) > 2:  # roc_curve(drop_intermediate=True)
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps = tps[keep], fps[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    fpr, tpr = fps / fps[-1], tps / tps[-1]
    return {k: tpr[fpr <= level].max() for k, level in levels.items()}  # (0, 0) always qualifies


def fp_allowed(fpr_level: float, n_nonmembers: int) -> int:
    """False positives a TPR at ``fpr_level`` allows among ``n_nonmembers``: floor(level x n), where a level
    times a count that is an integer in exact arithmetic (0.001 x 5000) counts as that integer."""
    return int(math.floor(fpr_level * n_nonmembers + 1e-9))


@dataclass(frozen=True)
class TPRAtFPR:
    """The true-positive rate at one false-positive level: ``level`` (0.01 = 1%), ``tpr``, the false
    positives allowed among the non-members (``fp_allowed`` = floor(level x n_nonmembers)) and, when
    bootstrapped, the 95% interval ``ci95`` (lo, hi)."""

    level: float
    tpr: float
    fp_allowed: int
    ci95: tuple[float, float] | None = None


@dataclass(frozen=True)
class AttackMetrics:
    """Every number the reports use for one attack on one set of records (:func:`attack_metrics`).

    ``tpr_at`` maps each key of :data:`FPR_LEVELS` to its :class:`TPRAtFPR`; ``threshold`` is the attack's
    (one number, or one per class) where the caller gives it.  :meth:`to_dict` is the layout of every
    stage's JSON (the TPRs as ``tpr_at_<level>_fpr`` keys, ``fp_allowed`` per level, ``<key>_ci95``);
    the record also reads like that dict (``m["auc"]``, ``m.get(...)``, ``{**m}``).
    """

    precision: float
    recall: float
    accuracy: float
    balanced_accuracy: float
    auc: float
    advantage_at_decision: float
    advantage_max: float
    n_members: int
    n_nonmembers: int
    tpr_at: dict[Metric, TPRAtFPR]
    threshold: float | list[float] | None = None
    #: the curve the threshold-free numbers come from (``m.roc.ppv_at(0.001)``); not part of the JSON
    roc: RocCurve | None = field(default=None, compare=False, repr=False)

    def tpr(self, fpr_level: float) -> float:
        """The TPR at ``fpr_level`` (one of :data:`FPR_LEVELS`' rates)."""
        for t in self.tpr_at.values():
            if t.level == fpr_level:
                return t.tpr
        raise MetricInputError(f"fpr_level: one of {sorted(FPR_LEVELS.values())}, got {fpr_level!r}")

    def to_dict(self) -> dict:
        """The JSON layout (without ``threshold``, which the stages place first in their blocks)."""
        out = {Metric.PRECISION.value: self.precision, Metric.RECALL.value: self.recall,
               Metric.ACCURACY.value: self.accuracy, Metric.BALANCED_ACCURACY.value: self.balanced_accuracy,
               Metric.AUC.value: self.auc}
        out.update({Metric(key).value: t.tpr for key, t in self.tpr_at.items()})
        out.update({Metric.ADVANTAGE_AT_DECISION.value: self.advantage_at_decision,
                    Metric.ADVANTAGE_MAX.value: self.advantage_max})
        out.update(n_members=self.n_members, n_nonmembers=self.n_nonmembers,
                   fp_allowed={Metric(key).value: t.fp_allowed for key, t in self.tpr_at.items()})
        out.update({Metric(key).ci95: list(t.ci95) for key, t in self.tpr_at.items() if t.ci95 is not None})
        return out

    # read like the dict of to_dict(): every stage's code and the JSON share one spelling
    def __getitem__(self, key: str):
        return self.to_dict()[key]

    def get(self, key: str, default=None):
        return self.to_dict().get(key, default)

    def keys(self):
        return self.to_dict().keys()

    def __iter__(self):
        return iter(self.to_dict())

    def __contains__(self, key) -> bool:
        return key in self.to_dict()


def _decision_metrics(member: np.ndarray, called: np.ndarray) -> tuple[float, float, float, float, float]:
    """Precision, recall, accuracy, balanced accuracy and advantage (TPR - FPR) of the decisions ``called`` bool (N,)
    against ``member`` bool (N,), from the counts: sklearn's ``precision_score`` and ``recall_score``
    (``zero_division=0``) and ``accuracy_score`` to the bit; balanced accuracy and advantage NaN without both
    classes, accuracy NaN without records."""
    n_pos, n_neg = int(member.sum()), int((~member).sum())
    tp, fp = int((called & member).sum()), int((called & ~member).sum())
    tpr = tp / n_pos if n_pos else float("nan")
    fpr = fp / n_neg if n_neg else float("nan")
    n = n_pos + n_neg
    return (tp / (tp + fp) if tp + fp else 0.0, tpr if n_pos else 0.0, (tp + n_neg - fp) / n if n else float("nan"),
            (tpr + 1 - fpr) / 2, tpr - fpr)


def attack_metrics(member: np.ndarray, score: np.ndarray, pred: np.ndarray, bootstrap: int = 0,
                   seed: int = 0, threshold=None) -> AttackMetrics:
    """Every number the reports use, for one attack on one set of records (:class:`AttackMetrics`).

    ``member`` bool (N,) ground truth (positive = member); ``score`` float (N,)
    attack score; ``pred`` int 0/1 (N,) attack decision; ``threshold`` the attack's (recorded as given).
    Precision, recall, accuracy, balanced accuracy, AUC, the TPRs at 1%, 0.1% and 0% FPR with the false
    positives allowed at each level and, with ``bootstrap`` > 0 resamples, their 95% intervals, both
    advantages and the counts.  AUC and TPR@FPR are NaN when only one class occurs.
    """
    raw = np.asarray(score)
    if (raw.dtype == bool or np.issubdtype(raw.dtype, np.integer)) and raw.size and np.isin(raw, (0, 1)).all():
        raise MetricInputError("score: integer 0/1 values look like the attack's decisions; pass its continuous "
                               "scores as score (larger = more member) and the decisions as pred")
    member, score = check_member_score(member, score)
    pred = np.asarray(pred)
    if pred.shape != member.shape:
        raise MetricInputError(f"member, score, pred must be 1-D of one length, got {member.shape}, {score.shape}, "
                               f"{pred.shape}")
    if not (pred.dtype == bool or (np.issubdtype(pred.dtype, np.number) and np.isin(pred, (0, 1)).all())):
        raise MetricInputError("pred: expected the attack's 0/1 decisions (predict), got other values -- scores "
                               "belong in score")
    both = member.any() and not member.all()
    precision, recall, accuracy, balanced, advantage = _decision_metrics(member, pred.astype(bool))
    roc = RocCurve.of(member, score)
    intervals = bootstrap_tpr_intervals(member, score, bootstrap, seed) if bootstrap and both else {}
    return AttackMetrics(
        precision=precision,
        recall=recall,
        accuracy=accuracy,
        balanced_accuracy=balanced,
        auc=roc.auc,
        advantage_at_decision=advantage,
        advantage_max=roc.advantage,
        n_members=roc.n_members,
        n_nonmembers=roc.n_nonmembers,
        tpr_at={key: TPRAtFPR(level, roc.tpr_at(level), fp_allowed(level, roc.n_nonmembers),
                              tuple(intervals[key]) if key in intervals else None)
                for key, level in FPR_LEVELS.items()},
        threshold=threshold,
        roc=roc,
    )


def score_ties(member: np.ndarray, score: np.ndarray) -> dict:
    """How many records share their score with another record.

    ``member`` bool (N,), ``score`` float (N,).  Returns ``tied_records`` (records whose exact score value
    occurs more than once), ``tied_members`` / ``tied_nonmembers`` (of those), ``mixed_records`` (records in
    tie groups holding both members and non-members: the ties that flatten a ROC curve into one diagonal
    step) and ``largest_group`` (records in the largest group of equal scores).
    """
    member, score = check_member_score(member, score)
    if not len(score):
        return {"tied_records": 0, "tied_members": 0, "tied_nonmembers": 0, "mixed_records": 0, "largest_group": 0}
    _, group, size = np.unique(score, return_inverse=True, return_counts=True)
    members_in = np.bincount(group, weights=member, minlength=len(size))
    tied = size[group] > 1
    mixed = (members_in[group] > 0) & (members_in[group] < size[group])
    return {"tied_records": int(tied.sum()), "tied_members": int((tied & member).sum()),
            "tied_nonmembers": int((tied & ~member).sum()), "mixed_records": int(mixed.sum()),
            "largest_group": int(size.max())}


PER_CLASS_KEYS = (Metric.PRECISION, Metric.RECALL, Metric.ACCURACY, Metric.AUC, Metric.ADVANTAGE_AT_DECISION)


def metrics_by_class(
    member: np.ndarray, true_class: np.ndarray, score: np.ndarray, pred: np.ndarray, num_classes: int = 10
) -> dict[str, list[float]]:
    """Per-class lists (index = true class) of :data:`PER_CLASS_KEYS` (NaN for a class with no records)."""
    per_class: dict[str, list[float]] = {k.value: [] for k in PER_CLASS_KEYS}
    for c in range(num_classes):
        sel = np.asarray(true_class) == c
        m = attack_metrics(member[sel], score[sel], pred[sel]) if sel.any() else {}
        for k in PER_CLASS_KEYS:
            per_class[k].append(m.get(k, float("nan")))
    return per_class


def point_metrics(member: np.ndarray, score: np.ndarray, pred: np.ndarray) -> dict:
    """The numbers of :meth:`AttackMetrics.to_dict` but the bootstrap intervals, from one ROC curve: what
    :func:`attack_metrics` gives (to rounding), at a fraction of its cost, to re-derive many published rows
    from their score files on every run.  ``member`` bool (N,), ``score`` float64 (N,), ``pred`` 0/1 (N,)."""
    member = np.asarray(member, bool)
    score = np.asarray(score, np.float64)
    precision, recall, accuracy, balanced, advantage = _decision_metrics(member, np.asarray(pred).astype(bool))
    roc = RocCurve.of(member, score)
    levels = {key.value: roc.tpr_at(level) for key, level in FPR_LEVELS.items()}
    return {"precision": precision, "recall": recall, "accuracy": accuracy, "balanced_accuracy": balanced,
            "auc": roc.auc, **levels, "advantage_at_decision": advantage, "advantage_max": roc.advantage,
            "n_members": roc.n_members, "n_nonmembers": roc.n_nonmembers,
            "fp_allowed": {key.value: fp_allowed(level, roc.n_nonmembers) for key, level in FPR_LEVELS.items()}}


def first_difference(a, b, at: str = "value", tol: float = 1e-9) -> str | None:
    """Where published value ``a`` first differs from ``b`` (``at``, then ``.key`` and ``[i]`` below it), or
    None when they agree: numbers to ``tol`` (relative above 1; NaN equals NaN), dicts with the same keys and
    lists or tuples of one length element by element, anything else by ``==``."""
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b):
        return next((w for k in b if (w := first_difference(a[k], b[k], f"{at}.{k}", tol))), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return next((w for i, (x, y) in enumerate(zip(a, b)) if (w := first_difference(x, y, f"{at}[{i}]", tol))),
                    None)
    if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
        return at  # one a container, the other not, or of other keys or length
    numeric = (int, float, np.integer, np.floating)
    if isinstance(a, numeric) and isinstance(b, numeric) and not isinstance(a, bool) and not isinstance(b, bool):
        a, b = float(a), float(b)
        return None if (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(a), abs(b)) else at
    return None if a == b else at


def check_published(block: dict, arrays: dict, tol: float = 1e-9) -> None:
    """ValueError saying what disagrees unless a published ``block`` (AUC, TPRs at each FPR level, precision,
    recall, threshold) is what its per-record ``arrays`` (``member``, ``score``, ``pred``, ``true_class``) give:
    every summary is re-derived from the verified score file it summarises before it is published."""
    member = np.asarray(arrays["member"], bool)
    score = np.asarray(arrays["score"], np.float64)
    pred = np.asarray(arrays["pred"]).astype(int)
    roc = RocCurve.of(member, score)
    derived = {Metric.AUC: roc.auc,
               Metric.PRECISION: float(skm.precision_score(member, pred, zero_division=0)),
               Metric.RECALL: float(skm.recall_score(member, pred, zero_division=0)),
               **{k: roc.tpr_at(level) for k, level in FPR_LEVELS.items()}}
    for k, v in derived.items():
        if k in block and block[k] is not None and not (
                (math.isnan(v) and math.isnan(block[k])) or abs(float(block[k]) - v) <= tol):
            raise ValueError(f"its {k} {block[k]!r} is not what its scores give ({v!r})")
    t = block.get("threshold")
    if t is not None:
        per = np.asarray(t, np.float64)
        thr = per[np.asarray(arrays["true_class"])] if per.ndim == 1 else per
        if not np.array_equal(score >= thr, pred.astype(bool)):
            raise ValueError("its threshold does not give its decisions from its scores")
