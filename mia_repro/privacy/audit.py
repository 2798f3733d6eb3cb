"""Privacy auditing: the ε that an attack's success proves, to set beside the accountant's ε.

If a training algorithm is (ε, δ)-DP, every membership test on its model satisfies
TPR ≤ e^ε FPR + δ and, symmetrically, 1 − FPR ≤ e^ε (1 − TPR) + δ (Kairouz et al. 2015's hypothesis-testing
view; used as an audit by Jagielski et al., NeurIPS 2020, and Nasr et al., S&P 2021).  So one test fixed in
advance (a threshold t, decision "member" when score ≥ t) gives

    ε ≥ max( ln((TPR_lo − δ) / FPR_hi),  ln((1 − FPR_hi − δ) / (1 − TPR_lo)) )            (1)

with TPR_lo / FPR_hi the ends of two-sided Clopper–Pearson intervals at ``confidence`` (each end at
(1 + confidence) / 2): both directions use the same two interval ends, so (1) holds with probability ≥
``confidence`` (:func:`epsilon_at_threshold`).

The threshold, its direction and the attack must not be chosen on the labels the bound then uses: the
largest (1) over every threshold of the same records (:func:`best_threshold`) is an optimistic estimate,
**not a bound** — on scores with no signal it is above 0 far more often than 1 − ``confidence`` of the time.
:func:`epsilon_lower_bound` therefore *selects on other data*: a seeded split of the records, stratified by
membership (the split never looks at the scores); the attack, threshold and direction with the largest (1)
on the selection part are fixed, and (1) is evaluated once on the other part.  That is a valid
(``confidence``) lower bound on ε, selection included.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.stats import beta

from mia_repro.evaluation.metrics import MetricInputError, check_member_score

DIRECTIONS = ("tpr/fpr", "tnr/fnr")


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


def _check_audit(member, score, delta: float, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    member, score = check_member_score(member, score)
    if not 0 <= delta < 1:
        raise MetricInputError(f"delta must be in [0, 1), got {delta}")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    return member, score


def _bounds(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int, delta: float, confidence: float):
    """(forward, backward, tpr_lo, fpr_hi) of (1) at counts ``tp`` / ``fp`` (int arrays of one shape)."""
    tpr_lo, _ = clopper_pearson(tp, n_pos, confidence)
    _, fpr_hi = clopper_pearson(fp, n_neg, confidence)
    return _log_ratio(tpr_lo - delta, fpr_hi), _log_ratio(1 - fpr_hi - delta, 1 - tpr_lo), tpr_lo, fpr_hi


def _none(n_pos: int, n_neg: int) -> dict:
    return {"epsilon_lower_bound": 0.0, "threshold": None, "direction": None, "tpr_lower": None,
            "fpr_upper": None, "n_members": n_pos, "n_nonmembers": n_neg}


def epsilon_at_threshold(member, score, threshold: float, delta: float, direction: str | None = None,
                         confidence: float = 0.95) -> dict:
    """The bound (1) of one test fixed in advance: "member" when ``score >= threshold``.

    ``member`` bool (N,), ``score`` float (N,); ``direction`` "tpr/fpr", "tnr/fnr" or None (the larger of the
    two: valid, both use the same interval ends).  Returns the keys of :func:`best_threshold`;
    ``epsilon_lower_bound`` is 0 when the test proves nothing."""
    member, score = _check_audit(member, score, delta, confidence)
    if direction is not None and direction not in DIRECTIONS:
        raise MetricInputError(f"direction must be one of {DIRECTIONS} or None, got {direction!r}")
    if not np.isfinite(threshold):
        raise MetricInputError(f"threshold must be finite, got {threshold}")
    n_pos, n_neg = int(member.sum()), int((~member).sum())
    called = score >= threshold
    fwd, bwd, tpr_lo, fpr_hi = _bounds(np.array([int((called & member).sum())]), np.array([int((called & ~member).sum())]),
                                       n_pos, n_neg, delta, confidence)
    value = {"tpr/fpr": fwd[0], "tnr/fnr": bwd[0], None: max(fwd[0], bwd[0])}[direction]
    if not value > 0:
        return _none(n_pos, n_neg)
    return {"epsilon_lower_bound": float(value), "threshold": float(threshold),
            "direction": direction or ("tpr/fpr" if fwd[0] >= bwd[0] else "tnr/fnr"),
            "tpr_lower": float(tpr_lo[0]), "fpr_upper": float(fpr_hi[0]), "n_members": n_pos, "n_nonmembers": n_neg}


def best_threshold(member, score, delta: float, confidence: float = 0.95) -> dict:
    """The largest (1) over every threshold of ``score`` on these very records — **not a bound** (see the
    module): what :func:`epsilon_lower_bound` uses to *choose* a test on its selection records.

    ``member`` bool (N,), ``score`` float (N,), larger = more likely a member.  Returns
    ``epsilon_lower_bound`` (the maximum, ≥ 0; 0 when no threshold gives a positive value), the
    ``threshold`` and ``direction`` ("tpr/fpr" or "tnr/fnr") that gave it, the Clopper–Pearson ``tpr_lower``
    and ``fpr_upper`` there, and the counts ``n_members`` / ``n_nonmembers``.
    """
    member, score = _check_audit(member, score, delta, confidence)
    n_pos, n_neg = int(member.sum()), int((~member).sum())
    order = np.argsort(-score)  # the order within a group of equal scores does not matter: counts are read at its end
    s, m = score[order], member[order]
    last = np.r_[s[1:] != s[:-1], True]  # the last record of each group of equal scores: thresholds t = s
    forward, backward, tpr_lo, fpr_hi = _bounds(np.cumsum(m)[last], np.cumsum(~m)[last], n_pos, n_neg, delta,
                                                confidence)
    both = np.maximum(forward, backward)
    i = int(np.argmax(both))
    best = float(both[i])
    if not best > 0:
        return _none(n_pos, n_neg)
    return {"epsilon_lower_bound": best, "threshold": float(s[last][i]),  # finite: both denominators are > 0
            "direction": "tpr/fpr" if forward[i] >= backward[i] else "tnr/fnr",
            "tpr_lower": float(tpr_lo[i]), "fpr_upper": float(fpr_hi[i]), "n_members": n_pos, "n_nonmembers": n_neg}


def selection_split(member, seed: int, selection_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``(select, bound)``: disjoint sorted int64 index arrays covering ``range(len(member))``, a seeded
    permutation of the members and of the non-members each split ``selection_fraction`` : rest (stratified by
    membership only; the scores play no part)."""
    member = np.asarray(member, bool)
    if not 0 < selection_fraction < 1:
        raise MetricInputError(f"selection_fraction must be in (0, 1), got {selection_fraction}")
    rng = np.random.default_rng([int(seed), 35])
    select, bound = [], []
    for group in (np.flatnonzero(member), np.flatnonzero(~member)):
        perm = rng.permutation(group)
        k = int(round(selection_fraction * len(perm)))
        select.append(perm[:k])
        bound.append(perm[k:])
    return np.sort(np.concatenate(select)), np.sort(np.concatenate(bound))


def epsilon_lower_bound(member, scores, delta: float, confidence: float = 0.95, seed: int = 0,
                        selection_fraction: float = 0.5) -> dict:
    """A valid lower bound on ε at ``confidence``, the choice of attack and threshold included (see the module).

    ``member`` bool (N,); ``scores`` one float (N,) array or ``{attack name: (N,) array}`` (larger = more
    member).  On the seeded selection part (:func:`selection_split`) every attack's :func:`best_threshold`
    is computed; the attack, threshold and direction of the largest are fixed and (1) is evaluated on the
    other part alone.  Returns the keys of :func:`epsilon_at_threshold` (counts of the bound part) plus
    ``attack`` (None for a single array, or when nothing was selected), ``selected_value`` (the winner's
    value on the selection part: an estimate, not a bound), ``n_selection`` and ``method``.
    """
    named = dict(scores) if isinstance(scores, Mapping) else {None: scores}
    if not named:
        raise MetricInputError("no scores to audit")
    member = np.asarray(member)
    checked = {name: _check_audit(member, s, delta, confidence) for name, s in named.items()}
    member = next(iter(checked.values()))[0]
    select, bound = selection_split(member, seed, selection_fraction)
    if not (member[select].any() and (~member[select]).any() and member[bound].any() and (~member[bound]).any()):
        raise MetricInputError("too few members or non-members to split into a selection and a bound part")
    picks = {name: best_threshold(member[select], s[select], delta, confidence) for name, (_, s) in checked.items()}
    name = max(picks, key=lambda k: picks[k]["epsilon_lower_bound"])
    pick = picks[name]
    meta = {"selected_value": pick["epsilon_lower_bound"], "n_selection": int(len(select)),
            "method": f"selected on a {selection_fraction:g} split (seed {seed}), bounded on the rest"}
    if pick["threshold"] is None:
        return {**_none(int(member[bound].sum()), int((~member[bound]).sum())), "attack": None, **meta}
    result = epsilon_at_threshold(member[bound], checked[name][1][bound], pick["threshold"], delta,
                                  pick["direction"], confidence)
    return {**result, "attack": name if result["threshold"] is not None else None, **meta}
