"""The empirical lower bound on epsilon (mia_repro.audit), on cases whose answer is known."""
import math

import numpy as np
import pytest
from scipy.stats import norm

from mia_repro.audit import clopper_pearson, epsilon_lower_bound
from mia_repro.metrics import MetricInputError


def test_clopper_pearson_closed_forms():
    # k = 0 and k = n have closed forms: upper = 1 - (alpha/2)^(1/n), lower = (alpha/2)^(1/n)
    lo, hi = clopper_pearson(np.array([0, 10]), 10)
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(1 - 0.025 ** 0.1, rel=1e-9)
    assert lo[1] == pytest.approx(0.025 ** 0.1, rel=1e-9)
    lo, hi = clopper_pearson(np.array([5]), 10, confidence=0.9)
    assert lo[0] == pytest.approx(0.2224, abs=1e-4) and hi[0] == pytest.approx(0.7776, abs=1e-4)  # tables
    for bad in (dict(k=np.array([11]), n=10), dict(k=np.array([-1]), n=10), dict(k=np.array([0]), n=0)):
        with pytest.raises(MetricInputError):
            clopper_pearson(**bad)
    with pytest.raises(MetricInputError, match="confidence"):
        clopper_pearson(np.array([1]), 2, confidence=1.0)


def test_perfectly_separated_scores_give_the_bound_of_their_counts():
    """1,000 members all above 1,000 non-members: at the threshold between them TPR = 1, FPR = 0, and the
    bound is ln(CP lower of 1000/1000 / CP upper of 0/1000) = ln(0.025^(1/1000) / (1 - 0.025^(1/1000)))."""
    member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    score = np.r_[np.arange(1000) + 1000.0, np.arange(1000.0)]
    r = epsilon_lower_bound(member, score, delta=0.0)
    p = 0.025 ** (1 / 1000)
    assert r["epsilon_lower_bound"] == pytest.approx(math.log(p / (1 - p)), rel=1e-9)  # 5.600
    assert r["threshold"] == 1000.0 and r["tpr_lower"] == pytest.approx(p) and r["fpr_upper"] == pytest.approx(1 - p)
    assert (r["n_members"], r["n_nonmembers"]) == (1000, 1000)  # both directions give this value here
    # delta is subtracted from the numerator
    r = epsilon_lower_bound(member, score, delta=0.5)
    assert r["epsilon_lower_bound"] == pytest.approx(math.log((p - 0.5) / (1 - p)), rel=1e-9)


def test_the_reverse_direction_counts_when_it_is_the_larger():
    """30 members all scored 5; of 1,000 non-members half score 10, half 0.  At t = 5 every member is called
    one (TPR = 1) but so are half the non-members: TPR / FPR proves little, but 1 - FPR against 1 - TPR (no
    false negatives) proves ln(CP lower of TNR 500/1000 / CP upper of FNR 0/30)."""
    member = np.r_[np.ones(30, bool), np.zeros(1000, bool)]
    score = np.r_[np.full(30, 5.0), np.full(500, 10.0), np.zeros(500)]
    r = epsilon_lower_bound(member, score, delta=0.0)
    tnr_lo = 1 - clopper_pearson(np.array([500]), 1000)[1][0]
    fnr_hi = 1 - 0.025 ** (1 / 30)
    assert r["direction"] == "tnr/fnr" and r["threshold"] == 5.0
    assert r["epsilon_lower_bound"] == pytest.approx(math.log(tnr_lo / fnr_hi), rel=1e-9)  # 1.40
    assert r["epsilon_lower_bound"] > math.log(0.025 ** (1 / 30) / clopper_pearson(np.array([500]), 1000)[1][0])


def test_no_bound_when_scores_carry_no_signal():
    member = np.r_[np.ones(2, bool), np.zeros(2, bool)]
    r = epsilon_lower_bound(member, np.array([3.0, 2.0, 1.0, 0.0]), delta=1e-5)  # 2 vs 2 proves nothing
    assert r["epsilon_lower_bound"] == 0.0 and r["threshold"] is None and r["direction"] is None
    same = epsilon_lower_bound(np.r_[np.ones(500, bool), np.zeros(500, bool)], np.zeros(1000), delta=0.0)
    assert same["epsilon_lower_bound"] == 0.0


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_randomized_response_with_known_epsilon(eps):
    """An eps-DP mechanism (randomized response: a member's output is 1 with probability e^eps / (1 + e^eps),
    a non-member's with 1 / (1 + e^eps)), exact counts of 200,000 each: the bound is below eps, and within
    0.05 of it (what the Clopper-Pearson margins cost at this sample size)."""
    n = 200_000
    p = math.exp(eps) / (1 + math.exp(eps))
    k_in, k_out = round(p * n), round((1 - p) * n)
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    score = np.r_[np.arange(n) < k_in, np.arange(n) < k_out].astype(float)
    r = epsilon_lower_bound(member, score, delta=0.0)
    assert eps - 0.05 < r["epsilon_lower_bound"] <= eps


def test_gaussian_mechanism_stays_below_its_epsilon_at_delta():
    """Scores N(mu, 1) for members, N(0, 1) for non-members: mu-GDP, whose epsilon at delta solves
    delta = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2) (Dong, Roth, Su 2019).  Sampled 20,000 each
    (seeded): the audit proves less than that epsilon but a good part of it."""
    mu, delta = 2.0, 1e-3
    lo, hi = 0.0, 20.0
    for _ in range(100):
        mid = (lo + hi) / 2
        d = norm.cdf(-mid / mu + mu / 2) - math.exp(mid) * norm.cdf(-mid / mu - mu / 2)
        lo, hi = (lo, mid) if d < delta else (mid, hi)
    eps_true = hi
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(20_000, bool), np.zeros(20_000, bool)]
    score = np.r_[rng.normal(mu, 1, 20_000), rng.normal(0, 1, 20_000)]
    r = epsilon_lower_bound(member, score, delta)
    assert 0.5 * eps_true < r["epsilon_lower_bound"] < eps_true


def test_bad_inputs_are_named():
    member = np.r_[np.ones(3, bool), np.zeros(3, bool)]
    with pytest.raises(MetricInputError, match="delta"):
        epsilon_lower_bound(member, np.arange(6.0), delta=1.0)
    with pytest.raises(MetricInputError, match="non-finite"):
        epsilon_lower_bound(member, np.array([np.nan, 1, 2, 3, 4, 5.0]), delta=0.0)
    with pytest.raises(MetricInputError):
        epsilon_lower_bound(np.ones(6, bool), np.arange(6.0), delta=0.0)


def test_clopper_pearson_edges_and_exact_messages():
    lo, hi = clopper_pearson(np.array([0, 1]), 1)  # a single trial is enough
    np.testing.assert_allclose(lo, [0.0, 0.025]) and np.testing.assert_allclose(hi, [0.975, 1.0])
    lo, _ = clopper_pearson(np.array([1]), 10)
    assert lo[0] == pytest.approx(1 - 0.975 ** 0.1, rel=1e-9)  # one success: (alpha/2)-quantile of Beta(1, 10)
    for kwargs, message in ((dict(k=np.array([0]), n=0), "need at least one trial, got n=0"),
                            (dict(k=np.array([4]), n=3), "successes must lie in 0..3"),
                            (dict(k=np.array([1]), n=3, confidence=0.0), "confidence must be in (0, 1), got 0.0")):
        with pytest.raises(MetricInputError) as err:
            clopper_pearson(**kwargs)
        assert str(err.value) == message


def test_the_bound_uses_the_confidence_it_is_given_and_says_which_direction():
    member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    score = np.r_[np.arange(200) + 150.0, np.arange(200.0)]  # 50 non-members above the lowest member
    r95, r80 = epsilon_lower_bound(member, score, 0.0), epsilon_lower_bound(member, score, 0.0, confidence=0.8)
    assert r80["epsilon_lower_bound"] > r95["epsilon_lower_bound"] > 0  # a narrower interval proves more
    # the best point: all members at t = 150, 50 of 200 non-members: 1 - FPR against 1 - TPR = 0 wins
    assert r95["direction"] == "tnr/fnr" and r95["threshold"] == 150.0
    one_sided = epsilon_lower_bound(np.r_[np.ones(50, bool), np.zeros(1000, bool)],
                                    np.r_[np.full(50, 9.0), np.arange(1000.0) / 1000], 0.0)
    assert one_sided["direction"] == "tpr/fpr" and one_sided["threshold"] == 9.0  # 50 of 50 above every non-member
    p_hi = 1 - 0.025 ** (1 / 1000)
    assert one_sided["epsilon_lower_bound"] == pytest.approx(np.log(0.025 ** (1 / 50) / p_hi), rel=1e-9)


def test_no_bound_is_one_exact_record():
    r = epsilon_lower_bound(np.r_[np.ones(2, bool), np.zeros(2, bool)], np.array([3.0, 2.0, 1.0, 0.0]), delta=1e-5)
    assert r == {"epsilon_lower_bound": 0.0, "threshold": None, "direction": None, "tpr_lower": None,
                 "fpr_upper": None, "n_members": 2, "n_nonmembers": 2}


def test_the_bound_at_another_confidence_is_its_own_clopper_pearson_value():
    """50 members above 1,000 non-members at 80% confidence: ln(lower of 50/50 / upper of 0/1000), each end at
    90% (two-sided 80%)."""
    member = np.r_[np.ones(50, bool), np.zeros(1000, bool)]
    r = epsilon_lower_bound(member, np.r_[np.full(50, 9.0), np.arange(1000.0) / 1000], 0.0, confidence=0.8)
    assert r["epsilon_lower_bound"] == pytest.approx(np.log(0.1 ** (1 / 50) / (1 - 0.1 ** (1 / 1000))), rel=1e-9)


def test_no_warning_where_no_member_is_caught_yet():
    """The top-scored record is a non-member: at that threshold TPR = 0 and the ratio's numerator is 0 (the
    bound there is -inf, skipped), without a log-of-zero warning."""
    import warnings

    member = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    score = np.r_[np.arange(20.0), np.arange(20.0) + 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = epsilon_lower_bound(member, score, delta=0.0)
    assert r["epsilon_lower_bound"] == 0.0
