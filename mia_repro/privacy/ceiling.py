"""What a one-run audit could show at best: the estimators' ceiling beside every bound.

A one-run bound below the accountant's ε says little by itself: with ``m`` canaries no estimator can prove
more than its **cap** (every guess right, :func:`caps`), and
even a trainer that is exactly the mechanism the accountant assumes proves less in a typical run.
:func:`ideal_ceiling` measures that typical run: it simulates the white-box canaries of
:mod:`mia_repro.training.canaries` on the mechanism itself — the subsampled Gaussian at the row's σ, q and
steps, each canary included with probability 1/2, sampled at each step with probability q (adding C to its
coordinate) and observed under N(0, (σC)²) noise, with no other gradient at its coordinate — scores them
by the sum and by the likelihood ratio (:func:`simulate_scores`) and runs every estimator on them, at the
row's m, guess grid, δ and confidence.  The median and the 10–90% band over ``trials`` runs are what the
estimator shows when nothing but the mechanism's own noise stands between the auditor and the canaries.
"""
from __future__ import annotations

import math

import numpy as np

from mia_repro.evaluation.metrics import MetricInputError
from mia_repro.privacy.one_run import epsilon_one_run, k_grid, likelihood_ratio_step, one_run_audit
from mia_repro.privacy.one_run_gdp import gdp_cap, gdp_epsilon, one_run_gdp_audit

SCORES = ("sum", "lr")
_CHUNK = 64  # steps simulated at once for the likelihood-ratio score


def steinke_cap(m: int, delta: float, confidence: float = 0.95, included: int | None = None) -> float:
    """The most ε the one-run bound of ``m`` canaries can show: every guess right, at the best pair of
    :func:`~mia_repro.privacy.one_run.k_grid` that ``included`` canaries in (and m − included out) allow
    (every pair when None)."""
    pairs = k_grid(m)
    each = 1 - (1 - confidence) / len(pairs)
    fits = [(kp, km) for kp, km in pairs if included is None or (kp <= included and km <= m - included)]
    return max((epsilon_one_run(m, kp + km, kp + km, delta, each) for kp, km in fits), default=0.0)


def simulate_scores(m: int, noise_multiplier: float, sampling_rate: float, steps: int, rng: np.random.Generator,
                    score: str = "sum") -> tuple[np.ndarray, np.ndarray]:
    """``(included bool (m,), score float64 (m,))`` of ``m`` ideal Dirac canaries (see the module), in units
    of C.  ``score`` "sum": Σ_t o_t, drawn exactly as K + σ √T Z (K ~ Binomial(T, q) for an included
    canary, 0 otherwise); "lr": Σ_t log(1 − q + q exp((o_t − 1/2) / σ²)), simulated step by step (σ > 0)."""
    if score not in SCORES:
        raise MetricInputError(f"score must be one of {SCORES}, got {score!r}")
    if not (noise_multiplier >= 0 and math.isfinite(noise_multiplier)) or not 0 < sampling_rate < 1 or steps < 1:
        raise MetricInputError(f"need σ >= 0, 0 < q < 1 and steps >= 1, got {noise_multiplier}, {sampling_rate}, {steps}")
    included = rng.random(m) < 0.5
    s = float(noise_multiplier)
    if score == "sum":
        k = np.where(included, rng.binomial(steps, sampling_rate, m), 0)
        return included, k + s * math.sqrt(steps) * rng.standard_normal(m)
    if s == 0:
        raise MetricInputError("the likelihood-ratio score is not defined at σ = 0")
    step = likelihood_ratio_step(1.0, s, sampling_rate)
    total = np.zeros(m)
    for start in range(0, steps, _CHUNK):
        t = min(_CHUNK, steps - start)
        o = s * rng.standard_normal((t, m))
        o += (rng.random((t, m)) < sampling_rate) & included
        total += step(o).sum(axis=0)
    return included, total


def _band(values: list[float]) -> dict:
    v = np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "p10": float(np.quantile(v, 0.1)), "p90": float(np.quantile(v, 0.9))}


def caps(m: int, delta: float, confidence: float = 0.95, included: int | None = None) -> dict:
    """The most each estimator can show with ``m`` canaries, ``included`` of them in: ``epsilon_cap``
    (:func:`steinke_cap`), ``gdp_mu_cap`` and its ε at ``delta``, ``gdp_epsilon_cap``."""
    mu = gdp_cap(m, confidence, included)
    return {"epsilon_cap": steinke_cap(m, delta, confidence, included), "gdp_mu_cap": mu,
            "gdp_epsilon_cap": gdp_epsilon(mu, delta)}


def ideal_ceiling(m: int, noise_multiplier: float, sampling_rate: float, steps: int, delta: float,
                  confidence: float = 0.95, trials: int = 100, seed: int = 0) -> dict:
    """What each estimator shows on ``trials`` simulated ideal runs (see the module): per score of
    :data:`SCORES` (the likelihood ratio only at σ > 0; None at σ = 0) the Steinke bound's and the f-DP
    estimate's ``median`` / ``p10`` / ``p90`` (``epsilon`` and ``gdp_mu``), and the inputs."""
    if not (isinstance(trials, int) and trials >= 1):
        raise MetricInputError(f"trials must be an integer >= 1, got {trials!r}")
    rng = np.random.default_rng([int(seed), 47])
    out = {"m": m, "noise_multiplier": float(noise_multiplier), "sampling_rate": float(sampling_rate),
           "steps": int(steps), "delta": float(delta), "confidence": float(confidence), "trials": trials,
           "seed": int(seed)}
    for score in SCORES:
        if score == "lr" and noise_multiplier == 0:
            out[score] = None
            continue
        eps, mu = [], []
        for _ in range(trials):
            inc, s = simulate_scores(m, noise_multiplier, sampling_rate, steps, rng, score)
            eps.append(one_run_audit(inc, s, delta, confidence)["epsilon_lower_bound"])
            mu.append(one_run_gdp_audit(inc, s, delta, confidence)["mu_lower_bound"])
        out[score] = {"epsilon": _band(eps), "gdp_mu": _band(mu)}
    return out
