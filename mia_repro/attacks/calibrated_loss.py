"""Difficulty-calibrated loss (Watson et al., ICLR 2022, "On the Importance of Difficulty
Calibration in Membership Inference Attacks").

Sec. 3, Eq. (2) with the loss as the score: ``s_cal(x) = l(h, x) - E_g[l(g, x)]``,
the target's loss on x minus the mean loss of reference models g that did not
train on x (here: the shadows, OUT for every target record).  A record that is
hard for every model is no longer mistaken for a non-member.  Member iff the
calibrated loss is small; the score is its negative.  A record that no reference
is OUT for (a pool with few references) is calibrated by the mean OUT loss over
every record (:func:`~mia_repro.attacks.reference.side_mean`).
"""
from __future__ import annotations

import numpy as np

from mia_repro.attacks.registry import register
from mia_repro.attacks.reference import ReferenceAttack, ReferenceProblem, side_mean


@register("calibrated_loss",
          label="calibrated loss",
          paper="Watson et al., ICLR 2022, Eq. 2 (target loss minus mean OUT-reference loss)",
          sets={"compare": None, "pool": 9})
class CalibratedLoss(ReferenceAttack):
    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        ref_mean, _ = side_mean(p.ref_loss, p.ref_out)
        return -(p.loss - ref_mean)
