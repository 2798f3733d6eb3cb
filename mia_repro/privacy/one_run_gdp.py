"""An f-DP (Gaussian) one-run estimate (Mahloujifar, Melis and Chaudhuri, "Auditing f-Differential Privacy
in One Run", arXiv 2410.22235, 2024): the μ of μ-GDP (Dong, Roth and Su, JRSS-B 2022) that one training
run's canaries reject, and the ε at δ it implies if the trainer's privacy curve is Gaussian.

μ-GDP claims the Gaussian trade-off curve f(α) = Φ(Φ⁻¹(1 − α) − μ) between a test's two errors, for every
test at once.  Their one-run theorem turns a claimed f into a limit on the guesses: with ``r`` guesses
"included" among ``m`` canaries, each included independently with probability 1/2, the claim is rejected at
level β when ``v`` right guesses are more than f allows, which their recursion decides
(:func:`gdp_rejects`; their audit of the trade-off with the cap, §5): starting from the right and wrong
fractions β v / m and β (r − v) / m, it raises the wrong fraction to what the trade-off forces,
h ← max(h, Φ(Φ⁻¹(ρ) − μ)), and the right fraction by the share i / (r − i) of that rise, for i = v − 1 down
to 0; the claim is rejected when the two reach past r / m.  The estimate is the largest rejected μ
(:func:`mu_one_run`: rejection only gets harder as μ grows).

Guesses are one-sided here (their theorem's setting: k− = 0): the pairs of
:func:`mia_repro.privacy.one_run.k_grid` with k− = 0, each at β / (their number), Bonferroni, so the largest
μ is a valid (``confidence``) statement, "the run is not μ-GDP for any smaller μ", also on scores with no
signal (the suite checks it on permuted labels and on simulated μ-GDP canaries).  Not copied from JAX
Privacy's version, whose default correction counts the thresholds of the scores' ROC hull: a number chosen
after seeing the scores, positive on null labels more often than its nominal level.

What the estimate buys over the (ε, δ) bound at one δ: the guesses are tested against the whole curve, so
the ε it implies at a small δ (:func:`gdp_epsilon`, δ_μ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2)) can be above
what the same guesses prove at that δ alone.  It is **an estimate, not a bound** on the (ε, δ) claim: it
holds as an ε only if the trainer's curve is Gaussian, as DP-SGD's is approximately after many steps
(their central limit theorem, μ ≈ q √(T (e^{1/σ²} − 1)), :func:`clt_mu`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import log_ndtr, ndtr, ndtri

from mia_repro.evaluation.metrics import MetricInputError
from mia_repro.privacy.one_run import check_canaries, guess_counts, k_grid

MU_MAX = 20.0  # no μ above this is searched
MU_TOLERANCE = 1e-6  # the bisection stops when the rejected and the kept μ are this close (the lower end is reported)


def gdp_delta(eps, mu: float) -> np.ndarray:
    """δ_μ(ε) of μ-GDP (see the module), float64 of ``eps``'s shape; 0 for μ = 0."""
    eps = np.asarray(eps, np.float64)
    if mu <= 0:
        return np.zeros(eps.shape)
    a = -eps / mu + mu / 2
    return np.clip(ndtr(a) - np.exp(eps + log_ndtr(a - mu)), 0.0, 1.0)


def gdp_epsilon(mu: float, delta: float) -> float:
    """The ε of μ-GDP at ``delta``: the ε ≥ 0 with δ_μ(ε) = δ (0 when δ_μ(0) ≤ δ)."""
    if not (mu >= 0 and math.isfinite(mu)):
        raise MetricInputError(f"mu must be finite and >= 0, got {mu}")
    if not 0 < delta < 1:
        raise MetricInputError(f"delta must be in (0, 1), got {delta}")
    if float(gdp_delta(0.0, mu)) <= delta:
        return 0.0
    hi = mu * mu / 2 + mu * 40 + 1  # δ_μ is far below any δ > 1e-300 there
    return float(brentq(lambda e: float(gdp_delta(e, mu)) - delta, 0.0, hi, xtol=1e-10))


def clt_mu(noise_multiplier: float, sampling_rate: float, steps: int) -> float:
    """The μ of DP-SGD's central limit (Bu, Dong, Long and Su 2020): q √(T (e^{1/σ²} − 1)); inf at σ = 0."""
    if noise_multiplier <= 0:
        return math.inf
    x = 1.0 / noise_multiplier ** 2
    if x > 700:
        return math.inf
    return float(sampling_rate * math.sqrt(steps * math.expm1(x)))


def gdp_rejects(m: int, r: int, v: int, mu: float, beta: float) -> bool:
    """Whether ``v`` right of ``r`` one-sided guesses among ``m`` canaries reject μ-GDP at level ``beta``
    (the recursion of the module)."""
    if r == 0 or v == 0:
        return False
    right, wrong = beta * v / m, beta * (r - v) / m
    for i in range(v - 1, -1, -1):
        raised = max(wrong, float(ndtr(ndtri(right) - mu)))
        if raised == wrong:  # neither fraction moves again
            break
        right = min(right + i / (r - i) * (raised - wrong), 1.0)
        wrong = raised
    return right + wrong > r / m


def mu_one_run(m: int, r: int, v: int, confidence: float = 0.95) -> float:
    """The largest μ that ``v`` right of ``r`` one-sided guesses among ``m`` canaries reject at level
    1 − ``confidence`` (:func:`gdp_rejects`; 0 when even μ = 0 is not rejected)."""
    if not (0 <= v <= r <= m):
        raise MetricInputError(f"need integers 0 <= v <= r <= m, got m={m}, r={r}, v={v}")
    if not 0 < confidence < 1:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    beta = 1.0 - confidence
    if not gdp_rejects(m, r, v, 0.0, beta):
        return 0.0
    if gdp_rejects(m, r, v, MU_MAX, beta):
        return MU_MAX
    lo, hi = 0.0, MU_MAX  # rejected at lo, not at hi
    while hi - lo > MU_TOLERANCE:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gdp_rejects(m, r, v, mid, beta) else (lo, mid)
    return lo


def one_sided_pairs(m: int) -> list[tuple[int, int]]:
    """The (k+, 0) pairs of :func:`mia_repro.privacy.one_run.k_grid`: the guess counts this estimate tries."""
    return [pair for pair in k_grid(m) if pair[1] == 0]


def one_run_gdp_audit(included, score, delta: float, confidence: float = 0.95) -> dict:
    """The f-DP (Gaussian) one-run estimate from ``m`` canaries: ``included`` bool (m,), ``score`` float (m,)
    (larger = more likely included), as :func:`mia_repro.privacy.one_run.one_run_audit` takes them.  Every
    pair of :func:`one_sided_pairs` at (1 − confidence) / their number; returns ``mu_lower_bound`` (valid at ``confidence``),
    ``epsilon_estimate`` (:func:`gdp_epsilon` of it at ``delta``: an ε only if the curve is Gaussian), the
    winning ``k_plus``, ``k_minus``, ``guesses``, ``correct``, ``m``, ``hypotheses`` and ``rows``."""
    included, score = check_canaries(included, score, confidence)
    if not 0 < delta < 1:
        raise MetricInputError(f"delta must be in (0, 1), got {delta}")
    m = len(score)
    pairs = one_sided_pairs(m)
    each = 1 - (1 - confidence) / len(pairs)
    rows = [{**row, "mu_lower_bound": mu_one_run(m, row["guesses"], row["correct"], each)}
            for row in guess_counts(included, score, pairs)]
    best = max(rows, key=lambda row: row["mu_lower_bound"])
    return {**best, "epsilon_estimate": gdp_epsilon(best["mu_lower_bound"], delta), "m": m,
            "hypotheses": len(pairs), "confidence": confidence, "rows": rows}


def gdp_cap(m: int, confidence: float = 0.95, included: int | None = None) -> float:
    """The most μ that ``m`` canaries can show: every guess right, at the best pair of :func:`one_sided_pairs`
    that ``included`` canaries in allow (every pair when None; 0 when none does)."""
    pairs = one_sided_pairs(m)
    each = 1 - (1 - confidence) / len(pairs)
    return max((mu_one_run(m, kp, kp, each) for kp, _ in pairs if included is None or kp <= included), default=0.0)
