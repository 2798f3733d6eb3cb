"""The simple baseline: a threshold on the target's confidence in the true class.

Shown beside every trained attack (Yeom et al., CSF 2018, and Song & Mittal,
USENIX Security 2021, study such metric thresholds): member iff ``p_y >= t``,
with ``t`` maximizing accuracy on the shadow records (the attacker's data),
exactly as the SVM is fit on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_curve

from .base import AttackData, AttackerView, MembershipAttack, attack_dataset


def true_class_confidence(data: AttackData) -> np.ndarray:
    """float64 (N,): the probability each record's model gives its true class."""
    return data.features[np.arange(len(data)), data.true_class].astype(np.float64)


@dataclass
class ThresholdAttack:
    """Baseline: member iff the true-class confidence is >= ``threshold`` (fit on shadow records)."""

    threshold: float
    trained_on: frozenset = field(default_factory=frozenset)

    @classmethod
    def fit(cls, train: AttackData) -> "ThresholdAttack":
        score = true_class_confidence(train)
        fpr, tpr, thr = roc_curve(train.member, score)
        pos, neg = train.member.sum(), (~train.member).sum()
        acc = (tpr * pos + (1 - fpr) * neg) / (pos + neg)
        best = int(np.argmax(acc))
        return cls(float(min(thr[best], 1.0)), frozenset(np.unique(train.source).tolist()))

    def score(self, data: AttackData) -> np.ndarray:
        return true_class_confidence(data)

    def predict(self, data: AttackData) -> np.ndarray:
        return (self.score(data) >= self.threshold).astype(int)


@dataclass
class ConfidenceThreshold(MembershipAttack):
    """:class:`ThresholdAttack` behind the common interface (score = ``p_y`` of the target)."""

    name: str = "confidence_threshold"
    paper: str = "baseline: threshold on p_y fit on shadow records (Yeom et al. 2018; Song & Mittal 2021)"

    def fit(self, view: AttackerView) -> "ConfidenceThreshold":
        self.threshold = ThresholdAttack.fit(attack_dataset(view.shadows)).threshold
        return self

    def score(self, view: AttackerView) -> np.ndarray:
        return true_class_confidence(view.target_records())
