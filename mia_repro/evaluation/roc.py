"""The ROC curve of an attack's scores, computed once, and the checks of the arrays it is computed from.

:class:`RocCurve` runs ``sklearn.metrics.roc_curve`` once and answers AUC (``roc_auc_score`` bit for bit),
TPR at an FPR level, the maximal advantage and PPV; :func:`check_member_score` is every metric's boundary
check (member bool, score finite float64, both classes present).

>>> import numpy as np
>>> roc = RocCurve.of(np.array([True, True, False, False]), np.array([0.9, 0.4, 0.6, 0.1]))
>>> roc.auc, roc.tpr_at(0.0), roc.advantage
(0.75, 0.5, 0.5)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from mia_repro.base.errors import MiaReproInputError


class MetricInputError(MiaReproInputError):
    """Arrays or levels given to a metric are not what it needs; the message names the argument."""


def check_member_score(member, score, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    """``(member bool (N,), score float64 (N,))`` validated: 1-D, one length, ``member`` bool or 0/1, ``score``
    finite numbers; :class:`MetricInputError` naming the argument otherwise."""
    m, s = np.asarray(member), np.asarray(score)
    if m.ndim != 1 or s.ndim != 1 or len(m) != len(s):
        raise MetricInputError(f"member and {name} must be 1-D of one length, got shapes {m.shape} and {s.shape}")
    if m.dtype != bool and not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
        raise MetricInputError("member: expected booleans or 0/1 (1 = member)")
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise MetricInputError(f"{name}: expected numbers, got {s.dtype}")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise MetricInputError(f"{name}: {int((~np.isfinite(s)).sum())} non-finite values (NaN or inf)")
    return m.astype(bool), s


def check_fpr_level(fpr_level) -> float:
    """``fpr_level`` as a rate in [0, 1): 0.01 means 1%; :class:`MetricInputError` for 1 or more (a percentage?)."""
    if isinstance(fpr_level, bool) or not isinstance(fpr_level, (int, float, np.integer, np.floating)) \
            or not 0 <= float(fpr_level) < 1:
        raise MetricInputError(f"fpr_level: a false-positive rate in [0, 1) (0.01 for 1%), got {fpr_level!r}")
    return float(fpr_level)


@dataclass(frozen=True, eq=False)
class RocCurve:
    """The ROC curve of one set of scores: ``sklearn.metrics.roc_curve`` run once, and every threshold-free
    number read from it.  ``fpr``, ``tpr``, ``thresholds`` float64 (K,) as ``roc_curve`` returns them
    (thresholds decreasing, the first point (0, 0)); empty when either class is absent, and then every
    answer is NaN.  ``auc`` is ``roc_auc_score`` bit for bit (which computes ``auc`` on this curve).

    >>> roc = RocCurve.of([True, True, False, False], [0.9, 0.4, 0.5, 0.1])
    >>> roc.auc, roc.tpr_at(0.0), roc.advantage, roc.ppv_at(0.0)
    (0.75, 0.5, 0.5, 1.0)
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    n_members: int
    n_nonmembers: int

    @classmethod
    def of(cls, member, score) -> RocCurve:
        """The curve of ``score`` float (N,) (larger = more member) against ``member`` bool (N,)."""
        member, score = check_member_score(member, score)
        n_pos, n_neg = int(member.sum()), int((~member).sum())
        if n_pos and n_neg:
            fpr, tpr, thresholds = skm.roc_curve(member, score)
        else:
            fpr = tpr = thresholds = np.zeros(0)
        return cls(fpr, tpr, thresholds, n_pos, n_neg)

    @property
    def defined(self) -> bool:
        """Both classes occur (otherwise every answer is NaN)."""
        return len(self.fpr) > 0

    @property
    def auc(self) -> float:
        return float(skm.auc(self.fpr, self.tpr)) if self.defined else float("nan")

    @property
    def advantage(self) -> float:
        """max over thresholds of TPR - FPR (TF Privacy's "attacker advantage")."""
        return float(np.max(self.tpr - self.fpr)) if self.defined else float("nan")

    def _point(self, fpr_level: float) -> int:
        """Index of the point of largest TPR with FPR <= ``fpr_level`` (the first such point of the curve)."""
        ok = self.fpr <= check_fpr_level(fpr_level)  # roc_curve starts at (0, 0): some point always qualifies
        return int(np.flatnonzero(ok)[np.argmax(self.tpr[ok])])

    def tpr_at(self, fpr_level: float) -> float:
        """Largest true-positive rate at false-positive rate <= ``fpr_level`` (a rate in [0, 1): 0.01 = 1%)."""
        return float(self.tpr[self._point(fpr_level)]) if self.defined else float("nan")

    def ppv_at(self, fpr_level: float) -> float:
        """Precision (positive predictive value: members among the records called member) at the threshold
        of :meth:`tpr_at`; NaN where that threshold calls no record a member."""
        if not self.defined:
            return float("nan")
        i = self._point(fpr_level)
        tp, fp = self.tpr[i] * self.n_members, self.fpr[i] * self.n_nonmembers
        return float(tp / (tp + fp)) if tp + fp else float("nan")


def tpr_at_fpr(member: np.ndarray, score: np.ndarray, fpr_level: float) -> float:
    """Largest true-positive rate (members caught) at false-positive rate <= ``fpr_level``.

    ``member`` bool (N,), ``score`` float (N,), ``fpr_level`` a rate in [0, 1) (0.01 = 1%).  NaN if either
    class is absent.
    """
    fpr_level = check_fpr_level(fpr_level)
    return RocCurve.of(member, score).tpr_at(fpr_level)


def max_advantage(member: np.ndarray, score: np.ndarray) -> float:
    """max over thresholds of TPR - FPR (NaN if either class is absent)."""
    return RocCurve.of(member, score).advantage


__all__ = ["MetricInputError", "RocCurve", "check_fpr_level", "check_member_score", "max_advantage", "tpr_at_fpr"]
