"""Metric-based attacks: class-dependent thresholds (Song & Mittal, USENIX Security 2021) and one global
loss threshold (Yeom et al., CSF 2018).

"Systematic Evaluation of Privacy Risks of Machine Learning Models", Sec. 3.2:
a record of class y is called a member when a metric of the target's output
passes a threshold ``tau_y`` learnt per class on the shadow records
(Eq. 3 for the loss, i.e. the cross-entropy ``-log p_y``; Eq. 5 for the
*modified entropy*

    Mentr(F(x), y) = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i),

which, unlike the plain entropy, is monotone in the correctness of the
prediction).  Smaller loss or Mentr means member.  The score reported is
``tau_y - metric`` (member iff >= 0), so one threshold (0) and one ROC serve
all classes.  Both metrics are computed from logits, stably.

Most papers' "loss attack" is instead Yeom et al.'s (CSF 2018, Sec. 3.2,
Adversary 2 with the loss): one threshold for all classes.  It is its own
attack here (:class:`GlobalLossThreshold`); Yeom et al. set the threshold to
the expected training loss, here it maximizes balanced accuracy on the shadow
records like every other learnt threshold.  The two differ most at low FPR, so
tables name the variant.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from mia_repro.attacks.registry import register
from mia_repro.attacks.view import AttackerView
from mia_repro.attacks.base import MembershipAttack
from mia_repro.attacks.thresholds import balanced_threshold
from mia_repro.attacks.signals import cross_entropy, log_softmax


def modified_entropy(logits: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """float64 (N,) Song & Mittal's Mentr from logits (N, C), accurate where probabilities saturate.

    ``1 - p_y`` as ``-expm1(log p_y)`` with ``log p_y`` from :func:`cross_entropy`; for ``i != y``,
    ``log(1 - p_i)`` as ``log1p(-p_i)`` where ``p_i < 1/2`` and as ``logsumexp_{j != i} z_j - logsumexp z``
    elsewhere (both exact to float64 precision in their range).
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(true_class)
    logp = log_softmax(z)
    c = z.shape[1]
    p = np.exp(logp)
    others = np.where(np.eye(c, dtype=bool)[None], -np.inf, z[:, None, :])  # (N, C, C): row i without z_i
    log1m = np.where(p < 0.5, np.log1p(-np.minimum(p, 0.5)),  # both branches finite for every p
                     logsumexp(others, axis=2) - logsumexp(z, axis=1, keepdims=True))
    is_y = np.arange(c)[None, :] == y[:, None]
    terms = np.where(is_y, 0.0, -p * log1m).sum(axis=1)
    log_py = -cross_entropy(z, y)
    return terms - (-np.expm1(log_py)) * log_py


def class_thresholds(metric: np.ndarray, true_class: np.ndarray, member: np.ndarray, num_classes: int) -> np.ndarray:
    """float64 (C,) per-class thresholds on ``-metric`` (member iff ``-metric >= tau``) learnt on labelled records.

    A class whose records hold one label only gets the threshold learnt on all classes.
    """
    pooled = balanced_threshold(member, -metric)
    out = np.full(num_classes, pooled)
    for c in range(num_classes):
        sel = true_class == c
        if sel.any() and member[sel].any() and not member[sel].all():
            out[c] = balanced_threshold(member[sel], -metric[sel])
    return out


class _ClassThresholdAttack(MembershipAttack):
    """Shared fit/score: ``metric(logits, true_class)`` (smaller = member), per-class thresholds ``taus_``
    float64 (C,) learnt on the shadow records; the score ``taus_[y] - metric`` is compared with
    ``threshold_`` = 0."""

    def metric(self, logits: np.ndarray, true_class: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def fit(self, view: AttackerView) -> "_ClassThresholdAttack":
        m = np.concatenate([self.metric(s.logits, s.true_class) for s in view.shadows])
        y = np.concatenate([s.true_class for s in view.shadows])
        member = np.concatenate([s.member for s in view.shadows])
        self.taus_ = class_thresholds(m, y, member, view.num_classes)
        self.threshold_ = 0.0
        return self

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return -self.metric(view.target_logits, view.true_class) - self.taus_[view.true_class]


@register("loss_threshold_global",
          label="loss thr. (global, Yeom)",
          paper="Yeom et al., CSF 2018, Sec. 3.2 (loss below one global threshold; here chosen on shadow records "
                "for balanced accuracy)",
          sets={"compare": None, "pool": 10})
class GlobalLossThreshold(MembershipAttack):
    """Yeom et al.'s loss attack: member iff ``-loss >= threshold_``, one threshold for every class."""

    def fit(self, view: AttackerView) -> "GlobalLossThreshold":
        score = np.concatenate([-cross_entropy(s.logits, s.true_class) for s in view.shadows])
        self.threshold_ = balanced_threshold(np.concatenate([s.member for s in view.shadows]), score)
        return self

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return -cross_entropy(view.target_logits, view.true_class)


@register("loss_threshold",
          label="loss thr. (per-class)",
          paper="Song & Mittal, USENIX Sec 2021, Eq. 3 (cross-entropy loss, class thresholds; Yeom et al. 2018)",
          sets=("compare",))
class LossThreshold(_ClassThresholdAttack):
    def metric(self, logits, true_class):
        return cross_entropy(logits, true_class)


@register("mentropy_threshold",
          label="m-entropy thr. (per-class)",
          paper="Song & Mittal, USENIX Sec 2021, Eq. 5 (modified entropy, class thresholds)",
          sets=("compare",))
class EntropyThreshold(_ClassThresholdAttack):
    def metric(self, logits, true_class):
        return modified_entropy(logits, true_class)
