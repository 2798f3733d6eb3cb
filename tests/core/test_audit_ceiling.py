"""What a one-run audit could show at best: the caps by hand, the simulated ideal canaries' moments, and the
ceiling's bands."""
import math

import numpy as np
import pytest

from mia_repro.privacy.ceiling import caps, ideal_ceiling, simulate_scores, steinke_cap
from mia_repro.evaluation.metrics import MetricInputError
from mia_repro.privacy.one_run import epsilon_one_run, k_grid
from mia_repro.privacy.one_run_gdp import gdp_cap, gdp_epsilon


def test_the_cap_is_every_guess_right_at_the_best_pair_the_inclusion_allows():
    """1,000 canaries, 16 pairs at 0.05 / 16 each: with 480 in, the pairs (500, 0) and (500, 500) cannot be all
    right, and the best is (300, 300), 600 right of 600 (the σ = 0 model's published 4.486); with 500 in,
    (500, 500) is allowed and proves more."""
    each = 1 - 0.05 / len(k_grid(1000))
    at_480 = steinke_cap(1000, 1e-5, 0.95, 480)
    assert at_480 == epsilon_one_run(1000, 600, 600, 1e-5, each) == pytest.approx(4.4858, abs=1e-4)
    assert steinke_cap(1000, 1e-5, 0.95, 500) == epsilon_one_run(1000, 1000, 1000, 1e-5, each) > at_480
    assert steinke_cap(1000, 1e-5, 0.95) == steinke_cap(1000, 1e-5, 0.95, 500)  # None: every pair
    c = caps(200, 1e-5, 0.95, 90)
    assert c["epsilon_cap"] == steinke_cap(200, 1e-5, 0.95, 90) < steinke_cap(1000, 1e-5, 0.95, 480)
    assert c["gdp_mu_cap"] <= gdp_cap(200) and c["gdp_epsilon_cap"] == gdp_epsilon(c["gdp_mu_cap"], 1e-5)


def test_the_sum_score_of_ideal_canaries_has_the_mechanisms_moments():
    """In units of C: included K + σ √T Z (K ~ Binomial(T, q)), excluded σ √T Z.  T = 400, q = 0.05, σ = 0.5:
    means 20 and 0, variances 400 × 0.05 × 0.95 + 0.25 × 400 = 119 and 100 (20,000 canaries: 5 standard
    errors)."""
    inc, s = simulate_scores(20_000, 0.5, 0.05, 400, np.random.default_rng(0), "sum")
    assert abs(inc.mean() - 0.5) < 0.02
    n_in, n_out = inc.sum(), (~inc).sum()
    assert s[inc].mean() == pytest.approx(20.0, abs=5 * math.sqrt(119 / n_in))
    assert abs(s[~inc].mean()) < 5 * math.sqrt(100 / n_out)
    assert s[inc].var() == pytest.approx(119.0, rel=0.06) and s[~inc].var() == pytest.approx(100.0, rel=0.06)


def test_the_likelihood_ratio_of_ideal_canaries_is_the_stronger_score():
    """T = 200, q = 0.05, σ = 0.5: an excluded canary's log-likelihood ratio has mean below 0 (it is a log of a
    ratio with mean 1) and every term is at least log(1 − q); the likelihood ratio separates the two groups
    better than the sum (AUC)."""
    from sklearn.metrics import roc_auc_score

    inc, lr = simulate_scores(4000, 0.5, 0.05, 200, np.random.default_rng(1), "lr")
    assert lr.min() >= 200 * math.log(0.95) - 1e-9 and lr[~inc].mean() < 0 < lr[inc].mean()
    inc2, s = simulate_scores(4000, 0.5, 0.05, 200, np.random.default_rng(1), "sum")
    assert roc_auc_score(inc, lr) > roc_auc_score(inc2, s) + 0.02
    with pytest.raises(MetricInputError, match="not defined at σ = 0"):
        simulate_scores(10, 0.0, 0.05, 5, np.random.default_rng(0), "lr")
    with pytest.raises(MetricInputError, match="score must be one of"):
        simulate_scores(10, 1.0, 0.05, 5, np.random.default_rng(0), "max")


def test_the_ceiling_reports_ordered_bands_and_is_seeded():
    a = ideal_ceiling(200, 0.6, 0.1, 60, 1e-5, trials=20, seed=3)
    assert a == ideal_ceiling(200, 0.6, 0.1, 60, 1e-5, trials=20, seed=3)
    for score in ("sum", "lr"):
        for what in ("epsilon", "gdp_mu"):
            b = a[score][what]
            assert 0 <= b["p10"] <= b["median"] <= b["p90"]
    assert a["lr"]["epsilon"]["median"] >= a["sum"]["epsilon"]["median"]
    # σ = 0: no likelihood ratio; nearly every included canary sampled (1 − 0.9^60): a typical run reaches the
    # cap of a run with other than exactly 100 of its 200 canaries in
    z = ideal_ceiling(200, 0.0, 0.1, 60, 1e-5, trials=10, seed=3)
    assert z["lr"] is None and z["sum"]["epsilon"]["median"] == pytest.approx(steinke_cap(200, 1e-5, 0.95, 99))
    # a mechanism with far more noise than signal proves nothing in a typical run
    assert ideal_ceiling(200, 50.0, 0.01, 20, 1e-5, trials=10)["sum"]["epsilon"]["median"] == 0.0
    with pytest.raises(MetricInputError, match="trials"):
        ideal_ceiling(200, 1.0, 0.1, 10, 1e-5, trials=0)


def test_the_caps_follow_the_inclusion_on_both_sides():
    """600 of 1,000 in: (500, 500) needs 500 out, so the best all-right pair is (300, 300) again; none in: no
    pair can be all right, the cap is 0; None is every pair, as ``gdp_cap``; with exactly 500 in, the
    one-sided (500, 0) pair is allowed and the μ cap is the unconstrained one."""
    assert steinke_cap(1000, 1e-5, 0.95, 600) == pytest.approx(4.4858, abs=1e-4)
    assert steinke_cap(1000, 1e-5, 0.95, 0) == 0.0 and caps(1000, 1e-5, 0.95, 0)["gdp_mu_cap"] == 0.0
    assert caps(1000, 1e-5)["gdp_mu_cap"] == gdp_cap(1000)
    assert caps(1000, 1e-5, 0.8)["gdp_mu_cap"] == gdp_cap(1000, 0.8) > gdp_cap(1000)
    assert steinke_cap(1000, 1e-5) == steinke_cap(1000, 1e-5, 0.95) and gdp_cap(1000) == gdp_cap(1000, 0.95)
    assert caps(1000, 1e-5, 0.95, 500)["gdp_mu_cap"] == gdp_cap(1000) > caps(1000, 1e-5, 0.95, 499)["gdp_mu_cap"]


def _mean_log_lr(q: float, sigma: float, shift: float) -> float:
    """E[log(1 − q + q exp((o − 1/2) / σ²))] for o ~ N(shift, σ²), by quadrature."""
    from scipy.integrate import quad
    from scipy.stats import norm

    f = lambda z: np.logaddexp(math.log1p(-q), math.log(q) + (shift + sigma * z - 0.5) / sigma ** 2) * norm.pdf(z)
    return quad(f, -12, 12, limit=200)[0]


def test_the_likelihood_ratio_sums_every_step_of_the_mechanism():
    """65 steps (a chunk of 64 and one more), q = 0.9, σ = 0.3: the mean score of an excluded canary is 65
    times the per-step mean by quadrature, and an included one's mixes the sampled and unsampled steps' means
    by q (4,000 canaries: within 5 standard errors)."""
    q, sigma, steps = 0.9, 0.3, 65
    inc, lr = simulate_scores(4000, sigma, q, steps, np.random.default_rng(4), "lr")
    out_step = _mean_log_lr(q, sigma, 0.0)
    in_step = q * _mean_log_lr(q, sigma, 1.0) + (1 - q) * out_step
    for group, step in ((~inc, out_step), (inc, in_step)):
        se = lr[group].std() / math.sqrt(group.sum())
        assert abs(lr[group].mean() - steps * step) < 5 * se


def test_the_ceiling_is_the_estimators_over_seeded_simulated_runs():
    """Three runs at confidence 0.8 and δ = 1e-3, by hand from the same generator: each score's runs drawn in
    turn, both estimators on each."""
    from mia_repro.privacy.one_run import one_run_audit
    from mia_repro.privacy.one_run_gdp import one_run_gdp_audit

    got = ideal_ceiling(100, 0.5, 0.2, 20, 1e-3, confidence=0.8, trials=3, seed=7)
    rng = np.random.default_rng([7, 47])
    for score in ("sum", "lr"):
        runs = [simulate_scores(100, 0.5, 0.2, 20, rng, score) for _ in range(3)]
        eps = [one_run_audit(i, s, 1e-3, 0.8)["epsilon_lower_bound"] for i, s in runs]
        mu = [one_run_gdp_audit(i, s, 1e-3, 0.8)["mu_lower_bound"] for i, s in runs]
        assert got[score]["epsilon"] == {"median": float(np.median(eps)), "p10": float(np.quantile(eps, 0.1)),
                                         "p90": float(np.quantile(eps, 0.9))}
        assert got[score]["gdp_mu"]["median"] == float(np.median(mu))
    assert {k: got[k] for k in ("m", "noise_multiplier", "sampling_rate", "steps", "delta", "confidence", "trials",
                                "seed")} == {"m": 100, "noise_multiplier": 0.5, "sampling_rate": 0.2, "steps": 20,
                                             "delta": 1e-3, "confidence": 0.8, "trials": 3, "seed": 7}
    assert ideal_ceiling(100, 0.5, 0.2, 5, 1e-3, trials=1)["sum"]["epsilon"]["p10"] >= 0  # one run is a band
    with pytest.raises(MetricInputError, match="need σ >= 0, 0 < q < 1 and steps >= 1"):
        simulate_scores(10, 1.0, 1.0, 5, np.random.default_rng(0))
    for bad in ((-1.0, 0.1, 5), (math.inf, 0.1, 5), (1.0, 0.0, 5), (1.0, 0.1, 0)):
        with pytest.raises(MetricInputError):
            simulate_scores(10, *bad, np.random.default_rng(0))
    simulate_scores(10, 1.0, 0.1, 1, np.random.default_rng(0))  # one step is a mechanism
