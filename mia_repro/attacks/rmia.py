"""RMIA, offline (Zarifzadeh, Liu, Chang, Shokri, ICML 2024, "Low-Cost High-Power Membership Inference Attacks").

Sec. 3, Eqs. (2)-(4): the likelihood ratio of x against a population record z,

    LR(x, z) = [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)],

with ``Pr(x | theta) = p_y(x)`` the target's softmax probability of the true
class, and ``Score_MIA(x) = Pr_z( LR(x, z) >= gamma )`` over the population
sample.  Offline (Sec. 4 / App. B.2.2), ``Pr(x)`` is estimated from OUT
reference models only and corrected with the scaling parameter ``a``:

    Pr(x) = 1/2 * ((1 + a) * mean_OUT Pr(x | theta_ref) + (1 - a)).

As in the paper, ``a`` is chosen by simulating the attack with reference models
as targets: here, on the population simulation (each shadow as target, the
others as references), the value on ``a_grid`` with the largest AUC.
Population records are the Stage I population sample (shadow pool, never
target data); they may be members of some shadows, whose OUT-ness is known and
respected.  ``gamma`` (default 2.0) is a field, not tuned here, and its default
has not been checked against the paper's experiments; the decision threshold on
the score is chosen on the simulation like every reference attack's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from .base import ReferenceAttack, ReferenceProblem, masked_mean_std, simulate, true_probability, balanced_threshold


def marginal(p_ref: np.ndarray, out: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Offline ``Pr(x)`` (N,) from reference probabilities (R, N) over OUT entries, and which records had any."""
    mean, _, count = masked_mean_std(p_ref, out)
    return 0.5 * ((1 + a) * mean + (1 - a)), count > 0


def rmia_score(p: ReferenceProblem, a: float, gamma: float) -> np.ndarray:
    """float64 (N,): the fraction of population records z with ``LR(x, z) >= gamma``."""
    px, _ = marginal(true_probability(p.ref_logits, p.true_class), p.ref_out, a)
    ratio_x = true_probability(p.logits, p.true_class) / px
    pz, has_ref = marginal(true_probability(p.pop_ref_logits, p.pop_true_class), p.pop_ref_out, a)
    ratio_z = np.sort(true_probability(p.pop_logits, p.pop_true_class)[has_ref] / pz[has_ref])
    return np.searchsorted(ratio_z, ratio_x / gamma, side="right") / max(len(ratio_z), 1)


@dataclass
class RMIAOffline(ReferenceAttack):
    name: str = "rmia_offline"
    paper: str = "Zarifzadeh et al., ICML 2024, Eqs. 2-4 offline (Pr(x) = ((1+a) mean_OUT + 1 - a) / 2)"
    a: float = 0.3
    gamma: float = 2.0
    a_grid: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    tune_a: bool = True

    def fit(self, view) -> "RMIAOffline":
        if self.tune_a:
            aucs = {}
            for a in self.a_grid:
                s, m = simulate(view, lambda p, a=a: rmia_score(p, a, self.gamma))
                aucs[a] = float(roc_auc_score(m, s))
            self.a = max(aucs, key=aucs.get)
            self.info = {"a_simulated_auc": aucs}
        score, member = simulate(view, self.problem_score)
        self.threshold = balanced_threshold(member, score)
        self.info = {**self.info, "a": self.a, "gamma": self.gamma, "simulated_records": int(len(member))}
        return self

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        return rmia_score(p, self.a, self.gamma)
