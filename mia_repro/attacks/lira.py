"""LiRA, offline (Carlini et al., IEEE S&P 2022, "Membership Inference Attacks From First Principles").

Algorithm 1, offline variant (Sec. VI-C): the statistic is the logit-scaled
confidence ``phi = log p_y - log(1 - p_y)`` (Sec. IV-B; computed from logits,
:func:`~mia_repro.attacks.base.logit_confidence`).  For each record, a
Gaussian ``N(mu_out, sigma_out^2)`` is fitted to the OUT reference models'
``phi`` and the target's ``phi`` is tested one-sidedly: the p-value of "x is
not a member" is ``1 - Phi((phi - mu_out) / sigma_out)``.  The score reported
is the standardized statistic ``(phi - mu_out) / sigma_out``, which ranks
records exactly as the p-value does (larger = member).

``global_variance=True`` is the variant the paper recommends with few
reference models (Sec. VI-A, "fixed variance"): one ``sigma_out`` for all
records, the pooled spread of the references around their per-record means.
With a per-record variance, records that have fewer than two OUT references
(possible in the simulation) use the global one.  No augmented queries are
used (the paper's query augmentation is not reproduced).

**Comparing with TF Privacy.**  TF Privacy's ``compute_score_lira``
(``tensorflow_privacy ... advanced_mia``) scores a *two-sided* density ratio
and estimates the OUT Gaussian with the median and a ddof-0 standard
deviation; this module implements the paper's *one-sided* test of Alg. 1 with
the mean and a ddof-1 standard deviation.  On this package's targets the
two-sided score is 0.08-0.11 AUC lower; with the one-sided test both agree to
within 0.005 AUC.  A reader comparing numbers with TF Privacy's should expect
that gap, not a bug.
"""
from __future__ import annotations

import numpy as np

from mia_repro.attacks.base import ReferenceAttack, ReferenceProblem, logit_confidence, masked_mean_std


def pooled_std(values: np.ndarray, mask: np.ndarray, mean: np.ndarray) -> float:
    """One standard deviation of ``values`` (R, N) around their per-record ``mean`` (N,) over ``mask``."""
    w = np.asarray(mask, dtype=np.float64)
    dof = max(w.sum() - np.count_nonzero(w.sum(axis=0)), 1)
    return float(np.sqrt((((values - mean) ** 2) * w).sum() / dof))


class LiRAOffline(ReferenceAttack):
    """``global_variance``: one ``sigma_out`` for every record (see the module docstring)."""

    name = "lira_offline"
    label = "LiRA offline (one-sided)"
    paper = "Carlini et al., S&P 2022, Alg. 1 offline (per-record Gaussian of OUT logit-scaled confidences, one-sided)"

    def __init__(self, global_variance: bool = False):
        self.global_variance = global_variance

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        phi_ref = logit_confidence(p.ref_logits, p.true_class)
        mu, sigma, count = masked_mean_std(phi_ref, p.ref_out)
        sigma_all = pooled_std(phi_ref, p.ref_out, mu)
        if self.global_variance:
            sigma = np.full_like(mu, sigma_all)
        else:
            sigma = np.where(count >= 2, sigma, sigma_all)
        return (logit_confidence(p.logits, p.true_class) - mu) / np.maximum(sigma, 1e-8)


class LiRAOfflineGlobal(LiRAOffline):
    name = "lira_offline_global"
    label = "LiRA offline (one-sided, global var.)"
    paper = "Carlini et al., S&P 2022, Alg. 1 offline with a global (fixed) variance"

    def __init__(self, global_variance: bool = True):
        self.global_variance = global_variance
