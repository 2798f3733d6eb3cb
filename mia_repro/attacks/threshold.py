"""The simple baseline: a threshold on the target's confidence in the true class.

Shown beside every trained attack (Yeom et al., CSF 2018, and Song & Mittal,
USENIX Security 2021, study such metric thresholds): member iff
``log p_y >= t``, with ``t`` maximizing accuracy on the shadow records (the
attacker's data), exactly as the SVM is fit on them; one global threshold.

The score is ``log p_y`` in float64, from the logits (log-softmax) wherever
the model exposes them: it ranks records as ``p_y`` does, but a 100-epoch
model's float32 ``p_y`` rounds to the same largest float below 1 for thousands
of records, which would tie them all and push the first operating point far
from the low-FPR region.  Where only
probabilities are exposed (an output-side defense), it is their logarithm.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from mia_repro.attacks.registry import register
from mia_repro.attacks.view import AttackData, AttackerView
from mia_repro.attacks.base import MembershipAttack

#: the log-probability given to a probability of exactly 0 (finite, below any real one)
LOG_ZERO = float(np.log(np.finfo(np.float64).tiny))


def true_class_confidence(data: AttackData) -> np.ndarray:
    """float64 (N,): ``log p_y``, the log-probability each record's model gives its true class.

    From ``data.log_true`` (the logits, float64) when present, else the log of
    the exposed probability (``LOG_ZERO`` for 0).
    """
    if data.log_true is not None:
        return np.asarray(data.log_true, dtype=np.float64)
    p = data.features[np.arange(len(data)), data.true_class].astype(np.float64)
    return np.log(np.maximum(p, np.finfo(np.float64).tiny))


def confidence_threshold(train: AttackData) -> float:
    """The threshold on ``log p_y`` (:func:`true_class_confidence`) that maximizes accuracy on labelled
    records ``train`` (the shadows'), at most 0 (``log 1``)."""
    score = true_class_confidence(train)
    fpr, tpr, thr = roc_curve(train.member, score)
    pos, neg = train.member.sum(), (~train.member).sum()
    acc = (tpr * pos + (1 - fpr) * neg) / (pos + neg)
    best = int(np.argmax(acc))
    return float(min(thr[best], 0.0))


@register("confidence_threshold",
          label="confidence thr. (global)",
          paper="baseline: one global threshold on log p_y fit on shadow records (Yeom et al. 2018; Song & Mittal 2021)",
          sets=("compare",))
class ConfidenceThreshold(MembershipAttack):
    """Baseline: member iff the target's ``log p_y`` (from its logits; from its exposed probabilities under
    an output defense) >= ``threshold_``, one global threshold fit on the shadow records
    (:func:`confidence_threshold`)."""

    needs_logits = False  # log p_y of the exposed probabilities where the logits are hidden

    def fit(self, view: AttackerView) -> "ConfidenceThreshold":
        self.threshold_ = confidence_threshold(view.shadow_records())
        return self

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return true_class_confidence(view.target_records())
