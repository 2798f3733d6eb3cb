"""Label-only attacks (Choquette-Choo et al., ICML 2021, "Label-Only Membership Inference Attacks").

The attacker sees only predicted labels.

* **Gap attack** (their Sec. 3, the baseline of Yeom et al. 2018): member iff
  the target classifies the record correctly; score 1 or 0.
* **Augmentation attack** (their Sec. 4.2): query the record and fixed
  augmentations of it (flips, shifts: the list is ``OutputsConfig.augmentations``),
  count the correct answers, member iff the count reaches a threshold learnt on
  the shadow records (their own augmented queries, kept by Stage I).  Score:
  the number of correct answers, 0 .. A + 1.
"""
from __future__ import annotations

import numpy as np

from mia_repro.attacks.registry import register
from mia_repro.attacks.view import AttackerView
from mia_repro.attacks.base import MembershipAttack
from mia_repro.attacks.thresholds import balanced_threshold


def correct_count(logits: np.ndarray, aug_labels: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """int (N,): correct answers on the record itself (``logits`` (N, C)) and its A augmentations (``aug_labels`` (A, N))."""
    y = np.asarray(true_class)
    return (np.asarray(logits).argmax(axis=1) == y).astype(int) + (np.asarray(aug_labels) == y[None]).sum(axis=0)


@register("label_only_gap",
          label="label-only gap",
          paper="Choquette-Choo et al., ICML 2021, gap attack (correct => member; Yeom et al. 2018)",
          sets=("compare",))
class GapAttack(MembershipAttack):
    def fit(self, view: AttackerView) -> "GapAttack":
        self.threshold_ = 1.0  # fixed by the rule; nothing to learn
        return self

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return (view.target_logits.argmax(axis=1) == view.true_class).astype(np.float64)


@register("label_only_augment",
          label="label-only augment",
          paper="Choquette-Choo et al., ICML 2021, data-augmentation attack (Sec. 4.2), threshold on the correct count",
          sets=("compare",))
class AugmentationAttack(MembershipAttack):
    needs_augmentations = True

    def fit(self, view: AttackerView) -> "AugmentationAttack":
        count = np.concatenate([correct_count(s.logits, s.aug_labels, s.true_class) for s in view.shadows])
        member = np.concatenate([s.member for s in view.shadows])
        self.threshold_ = balanced_threshold(member, count)
        self.info_ = {"queries": int(view.target_aug_labels.shape[0]) + 1}
        return self

    def decision_function(self, view: AttackerView) -> np.ndarray:
        return correct_count(view.target_logits, view.target_aug_labels, view.true_class).astype(np.float64)
