"""The one-run privacy audit of Steinke, Nasr and Jagielski, "Privacy Auditing with One (1) Training Run"
(NeurIPS 2023): an ε lower bound from a single trained model.

``m`` canaries are each included in the one training run independently with probability 1/2 (``S_i`` =
+1 in, −1 out).  After training the auditor scores every canary, guesses "in" for the ``k+`` highest
scores and "out" for the ``k−`` lowest, and abstains on the rest: ``r = k+ + k−`` guesses, ``v`` of them
correct.  If training is (ε, δ)-DP in each canary, their main theorem bounds the number of correct guesses
by that of ε-randomized response, each guess right with probability ``q = e^ε / (1 + e^ε)``, plus a δ term:

    p(ε) = P[Binomial(r, q) ≥ v] + 2 m δ · max_{i = 1..v} P[v − i ≤ Binomial(r, q) < v] / i     (their p-value)

(:func:`p_value`; the δ = 0 case is the binomial tail alone).  ε is then at least the largest ε whose
p-value is ≤ β = 1 − confidence (:func:`epsilon_one_run`, bisection: p(ε) increases with ε).

The choice of ``k+`` / ``k−`` after seeing the scores is a selection like any other: :func:`one_run_audit`
tries every pair of a fixed grid (:data:`K_FRACTIONS` of m) and **corrects for the selection with
Bonferroni** (each pair at significance β / number of pairs), so the reported maximum is a valid
(``confidence``) lower bound.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom

from mia_repro.evaluation.metrics import MetricInputError

#: the guess counts tried, as fractions of the canaries: k+ from this grid, k− either 0 or k+
K_FRACTIONS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
EPS_MAX = 50.0  # no bound above this is searched (a finite sample proves at most ln(r) or so)


def p_value(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """P[at least ``v`` of ``r`` guesses correct] under (``eps``, ``delta``)-DP with ``m`` canaries; see the module."""
    if not (isinstance(m, (int, np.integer)) and isinstance(r, (int, np.integer)) and isinstance(v, (int, np.integer))
            and 0 <= v <= r <= m):
        raise MetricInputError(f"need integers 0 <= v <= r <= m, got m={m}, r={r}, v={v}")
    if not (eps >= 0 and math.isfinite(eps)):
        raise MetricInputError(f"eps must be finite and >= 0, got {eps}")
    if not 0 <= delta < 1:
        raise MetricInputError(f"delta must be in [0, 1), got {delta}")
    q = 1.0 / (1.0 + math.exp(-eps))
    tail = float(binom.sf(v - 1, r, q))  # P[X >= v]
    if delta == 0 or v == 0:
        return min(tail, 1.0)
    i = np.arange(1, v + 1)
    below = binom.sf(v - i - 1, r, q) - tail  # P[v - i <= X < v]
    alpha = float(np.max(below / i))
    return min(tail + alpha * delta * 2 * m, 1.0)


def epsilon_one_run(m: int, r: int, v: int, delta: float, confidence: float = 0.95) -> float:
    """The largest ε whose :func:`p_value` is ≤ 1 − ``confidence`` (0 when even ε = 0 is not rejected):
    the (``confidence``) lower bound of one fixed guess count."""
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    beta = 1.0 - confidence
    gap = lambda eps: beta - p_value(m, r, v, eps, delta)  # > 0: eps rejected
    if r == 0 or gap(0.0) <= 0:
        return 0.0
    if gap(EPS_MAX) > 0:
        return EPS_MAX
    return float(brentq(gap, 0.0, EPS_MAX, xtol=1e-9))


def guesses(score, k_plus: int, k_minus: int) -> np.ndarray:
    """int8 (m,): +1 for the ``k_plus`` highest scores, −1 for the ``k_minus`` lowest, 0 (abstain) elsewhere
    (ties broken by a stable sort: by position)."""
    score = np.asarray(score, np.float64)
    m = len(score)
    if k_plus < 0 or k_minus < 0 or k_plus + k_minus > m:
        raise MetricInputError(f"need k_plus, k_minus >= 0 with k_plus + k_minus <= m = {m}")
    order = np.argsort(-score, kind="stable")
    out = np.zeros(m, np.int8)
    out[order[:k_plus]] = 1
    if k_minus:
        out[order[m - k_minus:]] = -1
    return out


def k_grid(m: int) -> list[tuple[int, int]]:
    """The (k+, k−) pairs :func:`one_run_audit` tries: k+ = round(f m) for f in :data:`K_FRACTIONS` (at least
    1), k− = 0 or k+ (where k+ + k− ≤ m); duplicates removed, in order."""
    pairs = []
    for f in K_FRACTIONS:
        k = max(1, int(round(f * m)))
        for pair in ((k, 0), (k, k)):
            if sum(pair) <= m and pair not in pairs:
                pairs.append(pair)
    return pairs


def likelihood_ratio_step(clip: float, noise_std: float, sampling_rate: float):
    """``f(o)``: one step's log-likelihood ratio of "the canary is included" against "it is not" for a
    white-box canary that adds ``clip`` to its coordinate with probability ``sampling_rate`` under
    N(0, ``noise_std``²) noise: log(1 − q + q exp((c o − c²/2) / s²)), float64 of ``o``'s shape, summed over the
    steps by the likelihood-ratio score (:mod:`mia_repro.training.canaries`, the ideal runs of
    :mod:`mia_repro.privacy.ceiling`).  Needs s > 0 and 0 < q < 1."""
    c, s, q = float(clip), float(noise_std), float(sampling_rate)
    if not (s > 0 and 0 < q < 1):
        raise MetricInputError(f"the likelihood ratio needs noise > 0 and 0 < q < 1, got {s} and {q}")
    slope, offset, log_out, log_in = c / s ** 2, c ** 2 / (2 * s ** 2), math.log1p(-q), math.log(q)
    return lambda o: np.logaddexp(log_out, log_in + slope * o - offset)


def check_canaries(included, score, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """``(included bool (m,), score float64 (m,))`` checked for a one-run estimator: a 1-d bool ``included``, a
    finite ``score`` of its shape, at least 2 canaries, ``confidence`` in (0, 1); :class:`MetricInputError`
    otherwise."""
    included = np.asarray(included)
    score = np.asarray(score, np.float64)
    if included.dtype != bool or included.ndim != 1:
        raise MetricInputError(f"included must be a 1-d bool array, got {included.dtype} {included.shape}")
    if score.shape != included.shape:
        raise MetricInputError(f"score has shape {score.shape}, included {included.shape}")
    if not np.isfinite(score).all():
        raise MetricInputError("score has non-finite values")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    if len(score) < 2:
        raise MetricInputError(f"need at least 2 canaries, got {len(score)}")
    return included, score


def guess_counts(included: np.ndarray, score: np.ndarray, pairs: list[tuple[int, int]]) -> list[dict]:
    """Per (k+, k−) of ``pairs``: ``k_plus``, ``k_minus``, ``guesses`` (r) and ``correct`` (v) of
    :func:`guesses` against the truth ``included``."""
    truth = np.where(included, 1, -1)
    rows = []
    for kp, km in pairs:
        g = guesses(score, kp, km)
        rows.append({"k_plus": kp, "k_minus": km, "guesses": int((g != 0).sum()), "correct": int((g == truth).sum())})
    return rows


def one_run_audit(included, score, delta: float, confidence: float = 0.95) -> dict:
    """The one-run ε lower bound from ``m`` canaries: ``included`` bool (m,) (each drawn with probability 1/2
    before training), ``score`` float (m,) (larger = more likely included).  Every pair of :func:`k_grid` at
    significance (1 − confidence) / its size (Bonferroni); returns ``epsilon_lower_bound`` (the largest,
    valid at ``confidence``), its ``k_plus``, ``k_minus``, ``guesses`` (r), ``correct`` (v), the ``m``, the
    number of ``hypotheses`` and ``rows`` (every pair's r, v and bound)."""
    included, score = check_canaries(included, score, confidence)
    m = len(score)
    pairs = k_grid(m)
    each = 1 - (1 - confidence) / len(pairs)
    rows = [{**row, "epsilon_lower_bound": epsilon_one_run(m, row["guesses"], row["correct"], delta, each)}
            for row in guess_counts(included, score, pairs)]
    best = max(rows, key=lambda row: row["epsilon_lower_bound"])
    return {**best, "m": m, "hypotheses": len(pairs), "confidence": confidence, "rows": rows}
