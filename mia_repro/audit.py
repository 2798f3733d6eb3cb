"""Privacy auditing: the ε that an attack's success proves, to set beside the accountant's ε.

If a training algorithm is (ε, δ)-DP, every membership test on its model satisfies
TPR ≤ e^ε FPR + δ and, symmetrically, 1 − FPR ≤ e^ε (1 − TPR) + δ (Kairouz et al. 2015's hypothesis-testing
view; used as an audit by Jagielski et al., NeurIPS 2020, and Nasr et al., S&P 2021).  So each operating
point of an attack gives the lower bound

    ε ≥ max( ln((TPR − δ) / FPR),  ln((1 − FPR − δ) / (1 − TPR)) ),

and :func:`epsilon_lower_bound` takes its maximum over every threshold of the attack's scores (decision
"member" when score ≥ t), with TPR replaced by its Clopper–Pearson lower bound and FPR by its upper bound
(two-sided 95% intervals, i.e. each end at 97.5%; the second form uses the same ends), so that finite
samples do not inflate it.  Caveat stated with every result: the maximum over thresholds (and, in the
mitigation stage, over attacks) is chosen on the same records it is measured on, so the bound is a
per-threshold 95% bound, not a simultaneous one.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import beta

from mia_repro.metrics import MetricInputError, check_member_score


def clopper_pearson(k: np.ndarray, n: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Clopper–Pearson interval ``(lower, upper)`` of a binomial proportion: ``k`` successes (int
    array) of ``n`` trials; float64 arrays of k's shape.  lower = 0 at k = 0, upper = 1 at k = n."""
    k = np.asarray(k, dtype=np.float64)
    if n <= 0:
        raise MetricInputError(f"need at least one trial, got n={n}")
    if np.any(k < 0) or np.any(k > n):
        raise MetricInputError(f"successes must lie in 0..{n}")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    alpha = 1 - confidence
    lower = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)  # beta.ppf is NaN, silently, at k = 0 / n
    upper = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return lower, upper


def _log_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """ln(num / den) where num > 0, -inf where num ≤ 0; ``den`` > 0 always here (a Clopper–Pearson upper bound
    of an FPR, or 1 minus a lower bound of a TPR, is positive for any count)."""
    out = np.full(num.shape, -np.inf)
    ok = num > 0
    out[ok] = np.log(num[ok]) - np.log(den[ok])
    return out


def epsilon_lower_bound(member, score, delta: float, confidence: float = 0.95) -> dict:
    """The empirical lower bound on ε from one attack's scores; see the module.

    ``member`` bool (N,), ``score`` float (N,), larger = more likely a member; ``delta`` the δ of the
    guarantee being audited.  Returns ``epsilon_lower_bound`` (≥ 0; 0 when no threshold proves anything),
    the ``threshold`` that gave it, ``direction`` ("tpr/fpr" or "tnr/fnr"), the Clopper–Pearson ``tpr_lower``
    and ``fpr_upper`` there, and the counts ``n_members`` / ``n_nonmembers``.
    """
    member, score = check_member_score(member, score)
    if not 0 <= delta < 1:
        raise MetricInputError(f"delta must be in [0, 1), got {delta}")
    n_pos, n_neg = int(member.sum()), int((~member).sum())
    order = np.argsort(-score)  # the order within a group of equal scores does not matter: counts are read at its end
    s, m = score[order], member[order]
    last = np.r_[s[1:] != s[:-1], True]  # the last record of each group of equal scores: thresholds t = s
    tp = np.cumsum(m)[last]
    fp = np.cumsum(~m)[last]
    tpr_lo, _ = clopper_pearson(tp, n_pos, confidence)
    _, fpr_hi = clopper_pearson(fp, n_neg, confidence)
    forward = _log_ratio(tpr_lo - delta, fpr_hi)
    backward = _log_ratio(1 - fpr_hi - delta, 1 - tpr_lo)
    both = np.maximum(forward, backward)
    i = int(np.argmax(both))
    best = float(both[i])
    if not best > 0:
        return {"epsilon_lower_bound": 0.0, "threshold": None, "direction": None, "tpr_lower": None,
                "fpr_upper": None, "n_members": n_pos, "n_nonmembers": n_neg}
    return {"epsilon_lower_bound": best, "threshold": float(s[last][i]),  # finite: both denominators are > 0
            "direction": "tpr/fpr" if forward[i] >= backward[i] else "tnr/fnr",
            "tpr_lower": float(tpr_lo[i]), "fpr_upper": float(fpr_hi[i]), "n_members": n_pos, "n_nonmembers": n_neg}
