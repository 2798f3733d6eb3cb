"""The f-DP (Gaussian) one-run estimate: the Gaussian curve by hand, the estimate's validity on labels with
no signal and on simulated μ-GDP canaries, and its selection over the one-sided guess counts."""
import math

import numpy as np
import pytest
from scipy.stats import norm

from mia_repro.evaluation.metrics import MetricInputError
from mia_repro.privacy.one_run import k_grid, one_run_audit
from mia_repro.privacy.one_run_gdp import (
    clt_mu, gdp_cap, gdp_delta, gdp_epsilon, gdp_rejects, mu_one_run, one_run_gdp_audit, one_sided_pairs
)


def test_the_gaussian_privacy_curve_by_hand():
    # δ_1(0) = Φ(1/2) − Φ(−1/2) = 0.382925; δ_1(1) = Φ(−1/2) − e Φ(−3/2) = 0.308538 − 2.718282 × 0.066807 = 0.126936
    assert float(gdp_delta(0.0, 1.0)) == pytest.approx(2 * norm.cdf(0.5) - 1, rel=1e-12)
    assert float(gdp_delta(1.0, 1.0)) == pytest.approx(norm.cdf(-0.5) - math.e * norm.cdf(-1.5), rel=1e-10)
    assert float(gdp_delta(1.0, 1.0)) == pytest.approx(0.126936, abs=1e-6)
    assert float(gdp_delta(3.0, 0.0)) == 0.0
    for mu, delta in ((0.5, 1e-5), (1.0, 1e-5), (2.0, 1e-3)):
        eps = gdp_epsilon(mu, delta)
        assert float(gdp_delta(eps, mu)) == pytest.approx(delta, rel=1e-6)
    assert gdp_epsilon(1.0, 0.5) == 0.0  # δ_1(0) = 0.38 < 0.5: ε = 0 already
    assert 0 < gdp_epsilon(1.0, 0.2) < 1  # δ_1(1) = 0.127 < 0.2 < δ_1(0): ε between 0 and 1
    # μ = 2: δ_2(1) = Φ(−1/2 + 1) − e Φ(−1/2 − 1)
    assert float(gdp_delta(1.0, 2.0)) == pytest.approx(norm.cdf(0.5) - math.e * norm.cdf(-1.5), rel=1e-10)
    for bad, says in (((-0.5, 1e-5), "mu must be finite and >= 0"), ((math.inf, 1e-5), "mu must be finite"),
                      ((1.0, 0.0), r"delta must be in \(0, 1\)"), ((1.0, 1.0), "delta must be in")):
        with pytest.raises(MetricInputError, match=says):
            gdp_epsilon(*bad)
    # the central limit of DP-SGD: q √(T (e^{1/σ²} − 1)) = 0.01 × √(10000 (e − 1)) = 1.310832
    assert clt_mu(1.0, 0.01, 10_000) == pytest.approx(0.01 * math.sqrt(10_000 * (math.e - 1)), rel=1e-12)
    assert clt_mu(0.0, 0.01, 10) == math.inf
    assert clt_mu(2.0, 0.01, 10_000) == pytest.approx(0.01 * math.sqrt(10_000 * math.expm1(0.25)), rel=1e-12)
    assert clt_mu(0.01, 0.01, 10) == math.inf  # e^{1/σ²} overflows: no finite μ


def test_rejection_gets_harder_as_mu_grows_and_needs_right_guesses():
    m, r = 1000, 100
    for v in (60, 80, 100):
        verdicts = [gdp_rejects(m, r, v, mu, 0.05) for mu in np.linspace(0, 3, 61)]
        assert verdicts == sorted(verdicts, reverse=True)  # True ... True False ... False
    assert not gdp_rejects(m, r, 50, 0.0, 0.05)  # half right: chance
    assert mu_one_run(m, r, 50) == 0.0 and mu_one_run(m, 0, 0) == 0.0
    assert 0 < mu_one_run(m, r, 80) < mu_one_run(m, r, 90) < mu_one_run(m, r, 100)
    mu = mu_one_run(m, r, 90)
    assert gdp_rejects(m, r, 90, mu, 0.05) and not gdp_rejects(m, r, 90, mu + 1e-5, 0.05)
    with pytest.raises(MetricInputError, match="need integers 0 <= v <= r <= m, got m=10, r=5, v=6"):
        mu_one_run(10, 5, 6)
    for conf in (0.0, 1.0):
        with pytest.raises(MetricInputError, match="confidence"):
            mu_one_run(10, 5, 5, conf)
    assert mu_one_run(10, 10, 10) >= 0  # every canary guessed: r = m is allowed


def _reference_mu(m: int, r: int, v: int, beta: float) -> float:
    """The recursion of the module written out on its own (fractions of right and wrong guesses, raised in
    turn), and the largest rejected μ found by halving [0, 3] 30 times."""
    from scipy.stats import norm

    def rejects(mu):
        rho, tau = beta * v / m, beta * (r - v) / m
        i = v - 1
        while i >= 0:
            new_tau = max(tau, norm.cdf(norm.ppf(rho) - mu))
            if new_tau == tau:
                break
            rho, tau = min(rho + i / (r - i) * (new_tau - tau), 1.0), new_tau
            i -= 1
        return rho + tau > r / m

    if not rejects(0.0):
        return 0.0
    lo, hi = 0.0, 3.0
    for _ in range(30):
        lo, hi = ((lo + hi) / 2, hi) if rejects((lo + hi) / 2) else (lo, (lo + hi) / 2)
    return lo


@pytest.mark.parametrize("m, r, v", [(1000, 100, 90), (1000, 10, 10), (200, 40, 33), (500, 250, 160)])
def test_the_recursion_meets_a_reference_written_apart(m, r, v):
    assert mu_one_run(m, r, v, 0.95) == pytest.approx(_reference_mu(m, r, v, 0.05), abs=1e-5)


def test_the_guess_counts_are_the_one_sided_pairs_and_bonferroni_corrected():
    m = 400
    assert one_sided_pairs(m) == [p for p in k_grid(m) if p[1] == 0] and len(one_sided_pairs(m)) == 8
    rng = np.random.default_rng(3)
    inc = rng.random(m) < 0.5
    score = inc * 2.0 + rng.normal(size=m)
    out = one_run_gdp_audit(inc, score, 1e-5)
    assert out["hypotheses"] == 8 and out["k_minus"] == 0 and out["m"] == m and out["confidence"] == 0.95
    best = max(out["rows"], key=lambda row: row["mu_lower_bound"])
    assert out["mu_lower_bound"] == best["mu_lower_bound"] == mu_one_run(m, best["guesses"], best["correct"],
                                                                         1 - 0.05 / 8)
    assert out["epsilon_estimate"] == gdp_epsilon(out["mu_lower_bound"], 1e-5)
    # every guess right is the cap, and the cap grows with the canaries
    assert gdp_cap(1000) == mu_one_run(1000, 500, 500, 1 - 0.05 / 8)  # (500, 0) all right, at β / 8
    assert gdp_cap(1000, 0.95, 499) == mu_one_run(1000, 300, 300, 1 - 0.05 / 8)  # (500, 0) out of reach
    assert gdp_cap(200) < gdp_cap(1000) and one_run_gdp_audit(inc, inc * 10.0, 1e-5)["mu_lower_bound"] <= gdp_cap(m)


def test_no_signal_gives_a_positive_estimate_at_most_five_percent_of_the_time():
    """Permuted labels (300 permutations of one strongly separable score, m = 200): the estimate is a valid 95%
    statement, so μ > 0 in at most 5% of them; allowed 9% (the binomial's 99.9% upper end at 5%) — observed
    far below, Bonferroni being conservative."""
    rng = np.random.default_rng(11)
    m = 200
    score = rng.normal(size=m) + 3.0 * (rng.random(m) < 0.5)
    positive = sum(one_run_gdp_audit(rng.random(m) < 0.5, score, 1e-5)["mu_lower_bound"] > 0 for _ in range(300))
    assert positive / 300 <= 0.09


def test_on_simulated_mu_gdp_canaries_the_estimate_stays_below_the_truth():
    """Independent canaries scored N(μ, 1) if included, N(0, 1) if not: a μ-GDP mechanism.  The bound is
    above the true μ = 1 in at most 5% of 100 runs (allowed 12%), and it is informative (median above 0.2)."""
    rng = np.random.default_rng(5)
    m, mu = 500, 1.0
    bounds = []
    for _ in range(100):
        inc = rng.random(m) < 0.5
        bounds.append(one_run_gdp_audit(inc, rng.normal(size=m) + mu * inc, 1e-5)["mu_lower_bound"])
    bounds = np.array(bounds)
    assert np.mean(bounds > mu) <= 0.12 and np.median(bounds) > 0.2


def test_reversed_scores_prove_nothing_and_bad_inputs_are_named():
    """Scores that rank every included canary last (larger = more likely included, read the wrong way): every
    guess is wrong, both estimators give 0."""
    rng = np.random.default_rng(2)
    inc = rng.random(300) < 0.5
    worst = -inc.astype(float)
    assert one_run_gdp_audit(inc, worst, 1e-5)["mu_lower_bound"] == 0.0
    assert one_run_audit(inc, worst, 1e-5)["epsilon_lower_bound"] == 0.0
    with pytest.raises(MetricInputError, match="1-d bool"):
        one_run_gdp_audit(inc.astype(int), worst, 1e-5)
    with pytest.raises(MetricInputError, match="delta"):
        one_run_gdp_audit(inc, worst, 0.0)
    with pytest.raises(MetricInputError, match="score has shape"):
        one_run_gdp_audit(inc, worst[:-1], 1e-5)
    with pytest.raises(MetricInputError, match="score has non-finite values"):
        one_run_gdp_audit(inc, np.where(inc, np.nan, 0.0), 1e-5)
    with pytest.raises(MetricInputError, match=r"confidence must be in \(0, 1\)"):
        one_run_gdp_audit(inc, worst, 1e-5, confidence=1.0)
    with pytest.raises(MetricInputError, match="at least 2 canaries"):
        one_run_gdp_audit(inc[:1], worst[:1], 1e-5)
    assert one_run_gdp_audit(inc, (-worst).astype(np.float32), 1e-5)["mu_lower_bound"] > 0  # any float dtype
