"""The one-run audit (Steinke, Nasr, Jagielski 2023) on cases computed by hand."""
import math

import numpy as np
import pytest

from mia_repro.evaluation.metrics import MetricInputError
from mia_repro.privacy.one_run import epsilon_one_run, guesses, k_grid, one_run_audit, p_value


def _tail(r, v, q):  # P[Binomial(r, q) >= v] by the sum of its terms
    return sum(math.comb(r, j) * q ** j * (1 - q) ** (r - j) for j in range(v, r + 1))


def test_p_value_without_delta_is_the_binomial_tail():
    for r, v, eps in ((10, 7, 0.5), (50, 40, 1.0), (5, 0, 2.0), (8, 8, 0.0)):
        q = math.exp(eps) / (1 + math.exp(eps))
        assert p_value(100, r, v, eps, 0.0) == pytest.approx(_tail(r, v, q), rel=1e-12)
    assert p_value(100, 10, 5, 0.0, 0.0) == pytest.approx(_tail(10, 5, 0.5))  # eps = 0: fair coins


def test_p_value_with_delta_by_hand():
    """r = 3, v = 2, m = 4, eps = ln 3 (q = 3/4), delta = 0.01: tail P[X >= 2] = (27 + 27)/64; P[1 <= X < 2] =
    9/64 (i = 1), P[0 <= X < 2] = 10/64 (i = 2, halved: 5/64); alpha = 9/64; p = 54/64 + 9/64 * 0.01 * 2 * 4."""
    assert p_value(4, 3, 2, math.log(3), 0.01) == pytest.approx(54 / 64 + 9 / 64 * 0.08, rel=1e-12)
    assert p_value(10 ** 9, 3, 2, math.log(3), 0.5) == 1.0  # capped


def test_all_guesses_right_gives_the_closed_form_bound():
    """k guesses, all right, delta = 0: p(eps) = q^k, so the bound solves q = beta^(1/k): eps = ln(q / (1 - q))."""
    for k in (10, 100):
        q = 0.05 ** (1 / k)
        assert epsilon_one_run(1000, k, k, 0.0) == pytest.approx(math.log(q / (1 - q)), abs=1e-6)
    assert epsilon_one_run(1000, 10, 5, 0.0) == 0.0  # half right proves nothing
    assert epsilon_one_run(1000, 0, 0, 0.0) == 0.0


def test_the_bound_is_where_the_p_value_crosses_the_significance():
    eps = epsilon_one_run(1000, 200, 150, 1e-5)
    assert p_value(1000, 200, 150, eps, 1e-5) == pytest.approx(0.05, abs=1e-6)
    assert p_value(1000, 200, 150, eps + 0.01, 1e-5) > 0.05 > p_value(1000, 200, 150, eps - 0.01, 1e-5)
    assert epsilon_one_run(1000, 200, 150, 1e-5, confidence=0.8) > eps > epsilon_one_run(1000, 200, 150, 1e-2)


def test_guesses_by_hand():
    s = np.array([0.1, 5.0, -2.0, 3.0, 0.0])
    np.testing.assert_array_equal(guesses(s, 2, 1), [0, 1, -1, 1, 0])
    np.testing.assert_array_equal(guesses(s, 0, 0), [0, 0, 0, 0, 0])
    with pytest.raises(MetricInputError):
        guesses(s, 3, 3)


def test_the_k_grid_and_the_audit_report_the_pair_they_used():
    assert k_grid(1000)[:4] == [(5, 0), (5, 5), (10, 0), (10, 10)] and (500, 500) in k_grid(1000)
    assert all(a + b <= 3 for a, b in k_grid(3))
    included = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    score = included.astype(float) + np.linspace(0, 0.5, 1000)  # every in-canary above every out-canary
    r = one_run_audit(included, score, delta=0.0)
    assert r["hypotheses"] == len(k_grid(1000)) and r["m"] == 1000
    best = max(r["rows"], key=lambda x: x["epsilon_lower_bound"])
    assert r["epsilon_lower_bound"] == best["epsilon_lower_bound"] > 0
    assert r["correct"] == r["guesses"] == best["k_plus"] + best["k_minus"]  # all guesses right here
    # each pair at significance 0.05 / hypotheses (Bonferroni)
    assert r["epsilon_lower_bound"] == pytest.approx(
        epsilon_one_run(1000, r["guesses"], r["correct"], 0.0, 1 - 0.05 / r["hypotheses"]), abs=1e-9)


def test_no_signal_gives_zero_in_95_percent_of_seeded_draws():
    """Scores independent of which canaries were included: the Bonferroni-corrected bound is 0 in >= 95% of
    200 seeded draws."""
    zero = 0
    for seed in range(200):
        rng = np.random.default_rng([seed, 2])
        zero += one_run_audit(rng.random(1000) < 0.5, rng.normal(size=1000), delta=1e-5)["epsilon_lower_bound"] == 0
    assert zero >= 190


def test_randomized_response_of_known_epsilon_stays_below_it():
    """Canary scores from eps-randomized response (score 1 with probability e^eps / (1 + e^eps) when in, else
    the reverse; ties broken at random), 5,000 canaries, delta = 0, 40 seeded draws: the bound exceeds eps in
    at most 2 (5% allowed), and proves a good part of eps on average (the audit is tight for this mechanism)."""
    eps = 2.0
    p = math.exp(eps) / (1 + math.exp(eps))
    bounds = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        inc = rng.random(5000) < 0.5
        score = np.where(inc, rng.random(5000) < p, rng.random(5000) >= p).astype(float) + rng.random(5000) * 1e-3
        bounds.append(one_run_audit(inc, score, 0.0)["epsilon_lower_bound"])
    bounds = np.array(bounds)
    assert (bounds > eps).sum() <= 2 and bounds.min() > 0
    assert 0.7 * eps < bounds.mean() < eps


def test_bad_inputs_are_named():
    with pytest.raises(MetricInputError, match="v <= r <= m"):
        p_value(10, 5, 6, 1.0, 0.0)
    with pytest.raises(MetricInputError, match="delta"):
        p_value(10, 5, 3, 1.0, 1.0)
    with pytest.raises(MetricInputError, match="eps"):
        p_value(10, 5, 3, -1.0, 0.0)
    with pytest.raises(MetricInputError, match="confidence"):
        epsilon_one_run(10, 5, 3, 0.0, confidence=1.0)
    with pytest.raises(MetricInputError, match="bool"):
        one_run_audit(np.ones(5), np.zeros(5), 0.0)
    with pytest.raises(MetricInputError, match="shape"):
        one_run_audit(np.ones(5, bool), np.zeros(4), 0.0)
    with pytest.raises(MetricInputError, match="non-finite"):
        one_run_audit(np.ones(3, bool), np.array([0, np.nan, 1.0]), 0.0)
    with pytest.raises(MetricInputError, match="confidence"):
        one_run_audit(np.ones(3, bool), np.zeros(3), 0.0, confidence=0.0)
