"""The audit (mia_repro.privacy.audit): the per-test bound on cases whose answer is known, the maximum over
thresholds (not a bound), and the valid bound that selects on one part of the records and bounds on the other."""
import math

import numpy as np
import pytest
from scipy.stats import norm

from mia_repro.privacy.audit import (
    best_threshold, clopper_pearson, epsilon_at_threshold, epsilon_lower_bound, selection_split
)
from mia_repro.evaluation.metrics import MetricInputError


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
    r = best_threshold(member, score, delta=0.0)
    p = 0.025 ** (1 / 1000)
    assert r["epsilon_lower_bound"] == pytest.approx(math.log(p / (1 - p)), rel=1e-9)  # 5.600
    assert r["threshold"] == 1000.0 and r["tpr_lower"] == pytest.approx(p) and r["fpr_upper"] == pytest.approx(1 - p)
    assert (r["n_members"], r["n_nonmembers"]) == (1000, 1000)  # both directions give this value here
    # delta is subtracted from the numerator
    r = best_threshold(member, score, delta=0.5)
    assert r["epsilon_lower_bound"] == pytest.approx(math.log((p - 0.5) / (1 - p)), rel=1e-9)


def test_the_reverse_direction_counts_when_it_is_the_larger():
    """30 members all scored 5; of 1,000 non-members half score 10, half 0.  At t = 5 every member is called
    one (TPR = 1) but so are half the non-members: TPR / FPR proves little, but 1 - FPR against 1 - TPR (no
    false negatives) proves ln(CP lower of TNR 500/1000 / CP upper of FNR 0/30)."""
    member = np.r_[np.ones(30, bool), np.zeros(1000, bool)]
    score = np.r_[np.full(30, 5.0), np.full(500, 10.0), np.zeros(500)]
    r = best_threshold(member, score, delta=0.0)
    tnr_lo = 1 - clopper_pearson(np.array([500]), 1000)[1][0]
    fnr_hi = 1 - 0.025 ** (1 / 30)
    assert r["direction"] == "tnr/fnr" and r["threshold"] == 5.0
    assert r["epsilon_lower_bound"] == pytest.approx(math.log(tnr_lo / fnr_hi), rel=1e-9)  # 1.40
    assert r["epsilon_lower_bound"] > math.log(0.025 ** (1 / 30) / clopper_pearson(np.array([500]), 1000)[1][0])


def test_no_bound_when_scores_carry_no_signal():
    member = np.r_[np.ones(2, bool), np.zeros(2, bool)]
    r = best_threshold(member, np.array([3.0, 2.0, 1.0, 0.0]), delta=1e-5)  # 2 vs 2 proves nothing
    assert r["epsilon_lower_bound"] == 0.0 and r["threshold"] is None and r["direction"] is None
    same = best_threshold(np.r_[np.ones(500, bool), np.zeros(500, bool)], np.zeros(1000), delta=0.0)
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
    r = best_threshold(member, score, delta=0.0)
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
    r = best_threshold(member, score, delta)
    assert 0.5 * eps_true < r["epsilon_lower_bound"] < eps_true


def test_bad_inputs_are_named():
    member = np.r_[np.ones(3, bool), np.zeros(3, bool)]
    with pytest.raises(MetricInputError, match="delta"):
        best_threshold(member, np.arange(6.0), delta=1.0)
    with pytest.raises(MetricInputError, match="non-finite"):
        best_threshold(member, np.array([np.nan, 1, 2, 3, 4, 5.0]), delta=0.0)
    with pytest.raises(MetricInputError):
        best_threshold(np.ones(6, bool), np.arange(6.0), delta=0.0)


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
    r95, r80 = best_threshold(member, score, 0.0), best_threshold(member, score, 0.0, confidence=0.8)
    assert r80["epsilon_lower_bound"] > r95["epsilon_lower_bound"] > 0  # a narrower interval proves more
    # the best point: all members at t = 150, 50 of 200 non-members: 1 - FPR against 1 - TPR = 0 wins
    assert r95["direction"] == "tnr/fnr" and r95["threshold"] == 150.0
    one_sided = best_threshold(np.r_[np.ones(50, bool), np.zeros(1000, bool)],
                                    np.r_[np.full(50, 9.0), np.arange(1000.0) / 1000], 0.0)
    assert one_sided["direction"] == "tpr/fpr" and one_sided["threshold"] == 9.0  # 50 of 50 above every non-member
    p_hi = 1 - 0.025 ** (1 / 1000)
    assert one_sided["epsilon_lower_bound"] == pytest.approx(np.log(0.025 ** (1 / 50) / p_hi), rel=1e-9)


def test_no_bound_is_one_exact_record():
    r = best_threshold(np.r_[np.ones(2, bool), np.zeros(2, bool)], np.array([3.0, 2.0, 1.0, 0.0]), delta=1e-5)
    assert r == {"epsilon_lower_bound": 0.0, "threshold": None, "direction": None, "tpr_lower": None,
                 "fpr_upper": None, "n_members": 2, "n_nonmembers": 2}


def test_the_bound_at_another_confidence_is_its_own_clopper_pearson_value():
    """50 members above 1,000 non-members at 80% confidence: ln(lower of 50/50 / upper of 0/1000), each end at
    90% (two-sided 80%)."""
    member = np.r_[np.ones(50, bool), np.zeros(1000, bool)]
    r = best_threshold(member, np.r_[np.full(50, 9.0), np.arange(1000.0) / 1000], 0.0, confidence=0.8)
    assert r["epsilon_lower_bound"] == pytest.approx(np.log(0.1 ** (1 / 50) / (1 - 0.1 ** (1 / 1000))), rel=1e-9)


def test_no_warning_where_no_member_is_caught_yet():
    """The top-scored record is a non-member: at that threshold TPR = 0 and the ratio's numerator is 0 (the
    bound there is -inf, skipped), without a log-of-zero warning."""
    import warnings

    member = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    score = np.r_[np.arange(20.0), np.arange(20.0) + 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = best_threshold(member, score, delta=0.0)
    assert r["epsilon_lower_bound"] == 0.0


def test_one_fixed_test_by_hand():
    """100 members, 100 non-members; at t = 5, 80 members and 2 non-members score >= t: the bound is
    ln((CP lower of 80/100 - delta) / CP upper of 2/100) forward, ln((1 - upper of 2/100) / (1 - lower of
    80/100)) backward; the larger without a direction."""
    member = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    score = np.r_[np.full(80, 6.0), np.full(20, 1.0), np.full(2, 7.0), np.full(98, 0.0)]
    lo = clopper_pearson(np.array([80]), 100)[0][0]
    hi = clopper_pearson(np.array([2]), 100)[1][0]
    fwd = epsilon_at_threshold(member, score, 5.0, delta=0.01, direction="tpr/fpr")
    assert fwd["epsilon_lower_bound"] == pytest.approx(math.log((lo - 0.01) / hi), rel=1e-12)
    bwd = epsilon_at_threshold(member, score, 5.0, delta=0.01, direction="tnr/fnr")
    assert bwd["epsilon_lower_bound"] == pytest.approx(math.log((1 - hi - 0.01) / (1 - lo)), rel=1e-12)
    either = epsilon_at_threshold(member, score, 5.0, delta=0.01)
    assert either["epsilon_lower_bound"] == max(fwd["epsilon_lower_bound"], bwd["epsilon_lower_bound"])
    assert (either["tpr_lower"], either["fpr_upper"]) == (pytest.approx(lo), pytest.approx(hi))
    # at a threshold above every score nobody is called: nothing is proved
    assert epsilon_at_threshold(member, score, 100.0, delta=0.0)["epsilon_lower_bound"] == 0.0
    with pytest.raises(MetricInputError, match="direction"):
        epsilon_at_threshold(member, score, 5.0, 0.0, direction="up")
    with pytest.raises(MetricInputError, match="threshold must be finite"):
        epsilon_at_threshold(member, score, float("nan"), 0.0)


def test_the_split_is_stratified_seeded_and_disjoint():
    member = np.r_[np.ones(101, bool), np.zeros(40, bool)]
    sel, bnd = selection_split(member, seed=3)
    assert len(np.intersect1d(sel, bnd)) == 0 and np.array_equal(np.sort(np.r_[sel, bnd]), np.arange(141))
    assert (member[sel].sum(), (~member[sel]).sum()) == (round(0.5 * 101), 20)
    again, _ = selection_split(member, seed=3)
    other, _ = selection_split(member, seed=4)
    assert np.array_equal(sel, again) and not np.array_equal(sel, other)
    with pytest.raises(MetricInputError, match="selection_fraction"):
        selection_split(member, 0, selection_fraction=1.0)


def test_the_valid_bound_is_the_fixed_test_of_the_selection_part_on_the_bound_part():
    rng = np.random.default_rng(1)
    member = np.r_[np.ones(400, bool), np.zeros(400, bool)]
    score = np.r_[rng.normal(1.5, 1, 400), rng.normal(0, 1, 400)]
    r = epsilon_lower_bound(member, score, delta=1e-5, seed=7)
    sel, bnd = selection_split(member, seed=7)
    pick = best_threshold(member[sel], score[sel], 1e-5)
    by_hand = epsilon_at_threshold(member[bnd], score[bnd], pick["threshold"], 1e-5, pick["direction"])
    assert r["threshold"] == pick["threshold"] and r["direction"] == pick["direction"]
    assert r["epsilon_lower_bound"] == by_hand["epsilon_lower_bound"] > 0
    assert r["selected_value"] == pick["epsilon_lower_bound"]
    assert (r["n_members"], r["n_nonmembers"], r["n_selection"]) == (200, 200, 400)
    assert r["attack"] is None  # one array: no attack name


def test_perfect_separation_still_proves_its_counts_on_the_bound_half():
    member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    score = member.astype(float)
    r = epsilon_lower_bound(member, score, delta=0.0)
    assert r["threshold"] == 1.0
    p = 0.025 ** (1 / 500)  # 500 members all called, 0 of 500 non-members
    assert r["epsilon_lower_bound"] == pytest.approx(math.log(p / (1 - p)), rel=1e-9)


def test_the_attack_is_selected_on_the_selection_part():
    rng = np.random.default_rng(2)
    member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    scores = {"noise": rng.normal(size=1000), "signal": np.r_[rng.normal(3, 1, 500), rng.normal(0, 1, 500)],
              "constant": np.zeros(1000)}
    r = epsilon_lower_bound(member, scores, delta=1e-5, seed=0)
    assert r["attack"] == "signal" and r["epsilon_lower_bound"] > 1.0
    with pytest.raises(MetricInputError, match="no scores"):
        epsilon_lower_bound(member, {}, 1e-5)
    with pytest.raises(MetricInputError, match="too few"):
        epsilon_lower_bound(np.r_[True, False], np.array([1.0, 0.0]), 0.0)


@pytest.mark.slow
def test_permutation_no_signal_the_published_bound_is_zero_in_95_percent():
    """Labels permuted at random (no signal at all), 13 attacks' scores as in the mitigation stage: the
    valid bound is 0 in at least 95% of 200 seeded permutations; the maximum over thresholds and attacks
    on the same labels (what an audit that selects on its own labels reports) is not."""
    rng = np.random.default_rng(35)
    n = 600
    base = {f"attack_{i}": rng.normal(size=n) for i in range(13)}
    zero_valid = positive_max = 0
    for p in range(200):
        member = np.random.default_rng([p, 1]).permutation(np.r_[np.ones(n // 2, bool), np.zeros(n // 2, bool)])
        zero_valid += epsilon_lower_bound(member, base, delta=1e-5, seed=p)["epsilon_lower_bound"] == 0.0
        positive_max += max(best_threshold(member, s, 1e-5)["epsilon_lower_bound"] for s in base.values()) > 0
    assert zero_valid >= 190
    assert positive_max >= 40  # >= 20% of permutations: the per-threshold maximum is not a 95% bound
