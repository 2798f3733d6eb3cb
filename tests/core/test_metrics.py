import numpy as np
import pytest

from mia_repro.evaluation.metrics import (
    attack_metrics, bootstrap_tpr_intervals, max_advantage, metrics_by_class, score_ties, tpr_at_fpr
)

MEMBER = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)


def test_perfect_attack():
    score = np.array([4, 3, 2, 1, -1, -2, -3, -4], float)
    m = attack_metrics(MEMBER, score, (score > 0).astype(int))
    assert {k: m[k] for k in ("precision", "recall", "accuracy", "balanced_accuracy", "auc", "tpr_at_1pct_fpr",
                              "tpr_at_0.1pct_fpr", "tpr_at_0pct_fpr", "advantage_at_decision", "advantage_max")} == \
        pytest.approx({"precision": 1, "recall": 1, "accuracy": 1, "balanced_accuracy": 1, "auc": 1, "tpr_at_1pct_fpr": 1,
                       "tpr_at_0.1pct_fpr": 1, "tpr_at_0pct_fpr": 1, "advantage_at_decision": 1, "advantage_max": 1})
    assert m["n_members"] == 4 and m["n_nonmembers"] == 4 and m["fp_allowed"]["tpr_at_1pct_fpr"] == 0


def test_inverted_attack():
    score = -np.array([4, 3, 2, 1, -1, -2, -3, -4], float)
    m = attack_metrics(MEMBER, score, (score > 0).astype(int))
    assert m["precision"] == 0 and m["recall"] == 0 and m["accuracy"] == 0
    assert m["auc"] == 0 and m["advantage_at_decision"] == -1 and m["tpr_at_1pct_fpr"] == 0


def test_hand_computed_mixed_case():
    # preds: TP TP FN FN | FP TN TN TN
    pred = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    score = np.array([0.9, 0.8, 0.3, 0.2, 0.85, 0.1, 0.05, 0.0])
    m = attack_metrics(MEMBER, score, pred)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["advantage_at_decision"] == pytest.approx(0.5 - 0.25)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 0.75) / 2)
    # ranks: member scores beat non-members in 13 of 16 pairs
    assert m["auc"] == pytest.approx(13 / 16)
    # at FPR 0 only the member scored 0.9 is above every non-member
    assert m["tpr_at_0.1pct_fpr"] == pytest.approx(0.25)


def test_random_attack_is_near_chance():
    rng = np.random.default_rng(0)
    member = rng.random(20000) < 0.5
    score = rng.random(20000)
    m = attack_metrics(member, score, (score > 0.5).astype(int))
    for k in ("precision", "accuracy", "auc"):
        assert abs(m[k] - 0.5) < 0.02
    assert abs(m["advantage_at_decision"]) < 0.03
    assert m["tpr_at_1pct_fpr"] < 0.03


def test_tpr_at_fpr_one_class_is_nan():
    assert np.isnan(tpr_at_fpr(np.ones(4, bool), np.arange(4), 0.01))


def test_metrics_by_class_splits_by_true_class():
    true = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    member = np.array([1, 1, 0, 0, 1, 1, 0, 0], bool)
    score = np.array([1, 1, -1, -1, -1, -1, 1, 1], float)
    per = metrics_by_class(member, true, score, (score > 0).astype(int), num_classes=3)
    assert per["accuracy"][:2] == [1.0, 0.0] and np.isnan(per["accuracy"][2])


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="one length"):
        attack_metrics(MEMBER, np.zeros(3), np.zeros(8))


def test_two_advantages_on_a_hand_made_case():
    # scores: members 0.9 0.8 0.3 0.2, non-members 0.85 0.1 0.05 0.0; decision at 0.5 -> TPR 0.5, FPR 0.25
    score = np.array([0.9, 0.8, 0.3, 0.2, 0.85, 0.1, 0.05, 0.0])
    m = attack_metrics(MEMBER, score, (score > 0.5).astype(int))
    assert m["advantage_at_decision"] == pytest.approx(0.25)
    # best threshold 0.2: TPR 1, FPR 0.25 -> 0.75
    assert m["advantage_max"] == pytest.approx(0.75) == max_advantage(MEMBER, score)


def test_bootstrap_interval_covers_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    member = np.r_[np.ones(3000, bool), np.zeros(3000, bool)]
    score = rng.normal(member * 1.0, 1.0)
    m = attack_metrics(member, score, (score > 0.5).astype(int), bootstrap=100, seed=7)
    for key in ("tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr"):
        lo, hi = m[f"{key}_ci95"]
        assert lo <= m[key] <= hi and lo < hi
    again = bootstrap_tpr_intervals(member, score, 100, seed=7)
    assert again["tpr_at_1pct_fpr"] == m["tpr_at_1pct_fpr_ci95"]
    assert bootstrap_tpr_intervals(member, score, 100, seed=8)["tpr_at_1pct_fpr"] != again["tpr_at_1pct_fpr"]


def test_score_ties_counts_by_hand():
    from mia_repro.evaluation.metrics import score_ties

    member = np.array([1, 1, 0, 1, 0, 0, 1], bool)
    score = np.array([0.9, 0.9, 0.9, 0.5, 0.5, 0.1, 0.7])
    # groups: 0.9 x3 (2 members, 1 not: mixed), 0.5 x2 (1 member, 1 not: mixed), 0.1 and 0.7 alone
    assert score_ties(member, score) == {"tied_records": 5, "tied_members": 3, "tied_nonmembers": 2,
                                         "mixed_records": 5, "largest_group": 3}
    # a tie among members only is tied but not mixed
    assert score_ties(np.array([1, 1, 0], bool), np.array([2.0, 2.0, 1.0])) == {
        "tied_records": 2, "tied_members": 2, "tied_nonmembers": 0, "mixed_records": 0, "largest_group": 2}
    assert score_ties(np.array([], bool), np.array([]))["tied_records"] == 0
    with pytest.raises(ValueError):
        score_ties(np.array([1, 0], bool), np.array([1.0]))


@pytest.mark.parametrize("call, message", [
    (lambda: tpr_at_fpr(MEMBER, np.arange(8.0), 1), "fpr_level: a false-positive rate in \\[0, 1\\) \\(0.01 for 1%\\), got 1"),
    (lambda: tpr_at_fpr(MEMBER, np.arange(8.0), -0.01), "fpr_level"),
    (lambda: tpr_at_fpr(MEMBER, np.arange(7.0), 0.01), "one length"),
    (lambda: attack_metrics(MEMBER, np.arange(8.0), np.linspace(0, 1, 8)), "pred: expected the attack's 0/1 decisions"),
    (lambda: attack_metrics(MEMBER, np.r_[np.nan, np.arange(7.0)], MEMBER.astype(int)), "score: 1 non-finite"),
    (lambda: attack_metrics(np.arange(8), np.arange(8.0), MEMBER.astype(int)), "member: expected booleans or 0/1"),
    (lambda: max_advantage(MEMBER, np.array(["a"] * 8)), "score: expected numbers"),
    (lambda: bootstrap_tpr_intervals(MEMBER, np.arange(8.0), levels={"x": 5}), "fpr_level"),
])
def test_metrics_reject_silent_mistakes_with_a_named_error(call, message):
    from mia_repro.evaluation.metrics import MetricInputError

    with pytest.raises(MetricInputError, match=message):
        call()


def test_metrics_accept_0_1_members_and_boolean_decisions():
    ints = attack_metrics(MEMBER.astype(int), np.arange(8.0), MEMBER)
    assert ints == attack_metrics(MEMBER, np.arange(8.0), MEMBER.astype(int))
    assert tpr_at_fpr(MEMBER, np.arange(8.0), 0.0) == tpr_at_fpr(MEMBER, np.arange(8.0), 0)


def test_unbalanced_counts_and_low_fpr_operating_points_by_hand():
    """30 members at 995.5, 996.5, ..., 1024.5; 1,000 non-members at 0, 1, ..., 999 (4 of them above the lowest
    member). Decisions: score > 1000."""
    member = np.r_[np.ones(30, bool), np.zeros(1000, bool)]
    score = np.r_[995.5 + np.arange(30), np.arange(1000.0)]
    pred = (score > 1000).astype(int)  # members 5..29: 25 of them; no non-member
    m = attack_metrics(member, score, pred)
    assert (m["n_members"], m["n_nonmembers"]) == (30, 1000)
    assert m["fp_allowed"] == {"tpr_at_1pct_fpr": 10, "tpr_at_0.1pct_fpr": 1, "tpr_at_0pct_fpr": 0}
    assert m["tpr_at_1pct_fpr"] == 1.0  # 4 false positives <= 10
    assert m["tpr_at_0.1pct_fpr"] == pytest.approx(27 / 30)  # one false positive (999): members >= 998.5
    assert m["tpr_at_0pct_fpr"] == pytest.approx(26 / 30)  # none: members >= 999.5
    assert (m["precision"], m["recall"]) == (1.0, pytest.approx(25 / 30))
    assert m["accuracy"] == pytest.approx(1025 / 1030)
    assert m["balanced_accuracy"] == pytest.approx((25 / 30 + 1) / 2)
    assert m["advantage_at_decision"] == pytest.approx(25 / 30)
    assert m["advantage_max"] == pytest.approx(1 - 4 / 1000)  # all members at FPR 4/1000
    assert m["auc"] == pytest.approx(1 - (4 + 3 + 2 + 1) / 30_000)  # pairs ranked wrong: 999>995.5.. etc.


def _bootstrap_draws(member, score, n_boot, seed, level):
    """The bootstrap's draws recomputed here: members and non-members resampled apart, TPR at ``level``."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(member), np.flatnonzero(~member)
    draws = []
    for _ in range(n_boot):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        draws.append(tpr_at_fpr(member[idx], score[idx], level))
    return draws


def test_bootstrap_interval_is_the_2_5_and_97_5_percentiles_of_its_draws():
    member = np.r_[np.ones(30, bool), np.zeros(1000, bool)]
    score = np.r_[995.5 + np.arange(30), np.arange(1000.0)]
    ci = bootstrap_tpr_intervals(member, score, n_boot=50, seed=3)
    draws = _bootstrap_draws(member, score, 50, 3, 0.001)
    assert ci["tpr_at_0.1pct_fpr"] == [pytest.approx(np.percentile(draws, 2.5)), pytest.approx(np.percentile(draws, 97.5))]


def test_one_class_paths_are_nan_without_warnings():
    """All members (or none): TPR / FPR of the absent class, AUC, TPR@FPR and the advantages are NaN, and
    nothing is computed on an empty slice (warnings are errors here)."""
    import warnings

    for member in (np.ones(6, bool), np.zeros(6, bool)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = attack_metrics(member, np.arange(6.0), np.r_[np.ones(3, int), np.zeros(3, int)], bootstrap=20)
            assert np.isnan(m["auc"]) and np.isnan(m["advantage_max"]) and np.isnan(m["balanced_accuracy"])
            assert all(np.isnan(m[k]) for k in ("tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "tpr_at_0pct_fpr"))
            assert not any(k.endswith("_ci95") for k in m)  # no bootstrap on one class
            assert np.isnan(max_advantage(member, np.arange(6.0))) and np.isnan(tpr_at_fpr(member, np.arange(6.0), 0.01))
        # the present class's rate is still computed: half of the 6 records are called members
        assert m["advantage_at_decision"] != m["advantage_at_decision"]  # NaN: one rate is undefined
        assert (m["n_members"], m["n_nonmembers"]) == ((6, 0) if member.all() else (0, 6))
        assert m["fp_allowed"] == {"tpr_at_1pct_fpr": 0, "tpr_at_0.1pct_fpr": 0, "tpr_at_0pct_fpr": 0}


def test_no_member_called_gives_zero_precision_and_recall_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = attack_metrics(MEMBER, np.arange(8.0), np.zeros(8, int))
    assert (m["precision"], m["recall"], m["advantage_at_decision"]) == (0.0, 0.0, 0.0)


def test_fp_allowed_is_the_floor_of_level_times_non_members():
    """At exactly 1,000 non-members 1% allows 10 and 0.1% allows 1 (level x n is whole: no rounding down to 9
    or 0); at 1,999, 19 and 1; at 99, 0 and 0."""
    for n_neg, want in ((1000, (10, 1, 0)), (1999, (19, 1, 0)), (99, (0, 0, 0)), (100, (1, 0, 0))):
        member = np.r_[np.ones(5, bool), np.zeros(n_neg, bool)]
        m = attack_metrics(member, np.arange(n_neg + 5.0), member.astype(int))
        assert tuple(m["fp_allowed"].values()) == want and m["n_nonmembers"] == n_neg and m["n_members"] == 5


def test_exact_messages_of_the_metric_checks():
    from mia_repro.evaluation.metrics import MetricInputError, check_fpr_level, check_member_score

    cases = [
        (lambda: attack_metrics(MEMBER, np.arange(8.0), np.ones(7, int)),
         "member, score, pred must be 1-D of one length, got (8,), (8,), (7,)"),
        (lambda: attack_metrics(MEMBER, np.arange(8.0), np.array([0, 1] * 4, dtype=object)),
         "pred: expected the attack's 0/1 decisions (predict), got other values -- scores belong in score"),
        (lambda: check_member_score(MEMBER[:, None], np.arange(8.0)),
         "member and score must be 1-D of one length, got shapes (8, 1) and (8,)"),
        (lambda: check_member_score(MEMBER, np.arange(8.0)[:, None]),
         "member and score must be 1-D of one length, got shapes (8,) and (8, 1)"),
        (lambda: check_member_score(np.array([0, 1] * 4, dtype=object), np.arange(8.0)),
         "member: expected booleans or 0/1 (1 = member)"),
        (lambda: check_member_score(MEMBER, np.arange(8.0) + 1j), "score: expected numbers, got complex128"),
        (lambda: check_member_score(MEMBER, np.r_[np.inf, np.nan, np.arange(6.0)]),
         "score: 2 non-finite values (NaN or inf)"),
        (lambda: check_fpr_level(False), "fpr_level: a false-positive rate in [0, 1) (0.01 for 1%), got False"),
        (lambda: check_fpr_level(True), "fpr_level: a false-positive rate in [0, 1) (0.01 for 1%), got True"),
        (lambda: check_fpr_level("0.01"), "fpr_level: a false-positive rate in [0, 1) (0.01 for 1%), got '0.01'"),
    ]
    for call, message in cases:
        with pytest.raises(MetricInputError) as err:
            call()
        assert str(err.value) == message
    assert check_member_score(MEMBER.astype(int), np.arange(8, dtype=np.int32))[1].dtype == np.float64
    assert check_fpr_level(np.float32(0.5)) == 0.5 and check_fpr_level(0) == 0.0


def test_score_ties_of_nothing_and_of_distinct_scores():
    zero = {"tied_records": 0, "tied_members": 0, "tied_nonmembers": 0, "mixed_records": 0, "largest_group": 0}
    assert score_ties(np.array([], bool), np.array([])) == zero
    assert score_ties(MEMBER, np.arange(8.0)) == {**zero, "largest_group": 1}


def test_attack_metrics_defaults_seed_zero_and_recall_zero_without_members():
    member = np.r_[np.ones(40, bool), np.zeros(60, bool)]
    score = np.random.default_rng(0).normal(size=100) + member
    pred = (score > 0.5).astype(int)
    assert attack_metrics(member, score, pred, bootstrap=30) == attack_metrics(member, score, pred, bootstrap=30, seed=0)
    assert attack_metrics(member, score, pred, bootstrap=30) != attack_metrics(member, score, pred, bootstrap=30, seed=1)
    none = attack_metrics(np.zeros(6, bool), np.arange(6.0), np.ones(6, int))
    assert (none["recall"], none["precision"]) == (0.0, 0.0)


def test_metrics_by_class_has_ten_classes_unless_told():
    member = np.r_[np.ones(4, bool), np.zeros(4, bool)]
    per = metrics_by_class(member, np.array([0, 1, 0, 1, 0, 1, 0, 1]), np.arange(8.0), member.astype(int))
    assert all(len(v) == 10 for v in per.values())
    assert np.isnan(per["auc"][2]) and per["precision"][0] == 1.0


def test_bootstrap_percentiles_on_a_spread_out_distribution():
    """300 members against 1,000 non-members with overlapping scores: the TPR at 1% FPR varies from resample
    to resample, so the 2.5th and 97.5th percentiles of 80 draws are distinct interpolations."""
    rng = np.random.default_rng(7)
    member = np.r_[np.ones(300, bool), np.zeros(1000, bool)]
    score = rng.normal(size=1300) + 1.5 * member
    ci = bootstrap_tpr_intervals(member, score, n_boot=80, seed=2)
    draws = _bootstrap_draws(member, score, 80, 2, 0.01)
    want = [np.percentile(draws, 2.5), np.percentile(draws, 97.5)]
    assert ci["tpr_at_1pct_fpr"] == [pytest.approx(w, abs=1e-12) for w in want]
    assert np.percentile(draws, 98.5) != want[1] and np.percentile(draws, 3.5) != want[0]  # the case can tell


def test_bootstrap_and_metrics_defaults():
    """200 resamples and seed 0 unless told; attack_metrics bootstraps only when asked."""
    rng = np.random.default_rng(7)
    member = np.r_[np.ones(300, bool), np.zeros(1000, bool)]
    score = rng.normal(size=1300) + 1.5 * member
    assert bootstrap_tpr_intervals(member, score) == bootstrap_tpr_intervals(member, score, n_boot=200, seed=0)
    assert bootstrap_tpr_intervals(member, score) != bootstrap_tpr_intervals(member, score, n_boot=201, seed=0)
    assert not any(k.endswith("_ci95") for k in attack_metrics(member, score, (score > 1).astype(int)))


def test_integer_decisions_passed_as_scores_are_refused():
    import numpy as np
    import pytest

    from mia_repro.evaluation.metrics import MetricInputError, attack_metrics

    member = np.r_[np.ones(5, bool), np.zeros(5, bool)]
    pred = np.r_[1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    with pytest.raises(MetricInputError, match="integer 0/1 values look like the attack's decisions"):
        attack_metrics(member, pred, pred)
    with pytest.raises(MetricInputError, match="look like the attack's decisions"):
        attack_metrics(member, pred.astype(bool), pred)
    # a float 0/1 score (label-only) is a score: AUC = (TPR + 1 - FPR) / 2 = (3/5 + 4/5) / 2
    assert attack_metrics(member, pred.astype(float), pred).auc == pytest.approx(0.7)


def test_auc_interval_is_hanley_mcneil_on_a_case_done_by_hand():
    """A = 0.9, 100 members, 100 non-members: Q1 = 0.9/1.1, Q2 = 1.62/1.9,
    SE² = (0.09 + 99(Q1 − 0.81) + 99(Q2 − 0.81)) / 10⁴ = 5.1206e-4 / 1, SE = 0.022629; ± 1.96 SE."""
    from mia_repro.evaluation.metrics import auc_interval

    lo, hi = auc_interval(0.9, 100, 100)
    assert (lo, hi) == pytest.approx((0.9 - 1.959964 * 0.0226290, 0.9 + 1.959964 * 0.0226290), abs=2e-6)
    lo, hi = auc_interval(1.0, 10, 10)  # SE 0 at a perfect AUC; clipped to [0, 1]
    assert (lo, hi) == (1.0, 1.0)
    assert auc_interval(0.5, 2500, 2500)[1] - 0.5 == pytest.approx(1.959964 * (1 / (12 * 2500 * 2500 / 5001)) ** 0.5, rel=1e-3)
    assert auc_interval(0.0, 10, 10) == (0.0, 0.0)  # the edges of [0, 1] and one record per class are valid
    lo, hi = auc_interval(0.5, 1, 1)  # SE² = 0.25: ± 0.98, clipped to [0, 1] on both sides
    assert (lo, hi) == (0.0, 1.0)
    lo, hi = auc_interval(0.99, 5, 5)  # 0.99 + 1.96 SE > 1: clipped above, not below
    assert hi == 1.0 and 0.9 < lo < 0.99
    for bad in ((1.2, 10, 10), (0.5, 0, 10), (0.5, 10, 0), (float("nan"), 10, 10)):
        with pytest.raises(ValueError, match="auc_interval: expected an AUC in \\[0, 1\\] and positive counts"):
            auc_interval(*bad)


@pytest.mark.parametrize("n, ties", [(10, False), (200, True), (3000, False), (3000, True)])
def test_point_metrics_are_attack_metrics_without_the_bootstrap(n, ties):
    from mia_repro.evaluation.metrics import attack_metrics, first_difference, point_metrics

    rng = np.random.default_rng(n)
    member = rng.random(n) < 0.5
    score = rng.normal(size=n) + member
    score = np.round(score, 1) if ties else score
    pred = (score > 0.5).astype(int)
    assert first_difference(point_metrics(member, score, pred), attack_metrics(member, score, pred).to_dict(),
                            tol=1e-12) is None


def test_point_metrics_of_one_class_are_nan_where_attack_metrics_are():
    from mia_repro.evaluation.metrics import attack_metrics, first_difference, point_metrics

    member, score, pred = np.ones(5, bool), np.arange(5.0), np.array([1, 0, 1, 1, 0])
    assert first_difference(point_metrics(member, score, pred), attack_metrics(member, score, pred).to_dict()) is None
    assert np.isnan(point_metrics(member, score, pred)["auc"])


def test_first_difference_names_where_two_published_values_part():
    from mia_repro.evaluation.metrics import first_difference

    a = {"rows": [{"auc": 0.7, "ci": [0.1, 0.2], "n": 3, "name": "x"}]}
    assert first_difference(a, json_copy(a)) is None
    assert first_difference(a, {"rows": [{"auc": 0.7 + 1e-12, "ci": [0.1, 0.2], "n": 3, "name": "x"}]}) is None
    assert first_difference(a, {"rows": [{"auc": 0.99, "ci": [0.1, 0.2], "n": 3, "name": "x"}]}, "r") == "r.rows[0].auc"
    assert first_difference(a, {"rows": [{"auc": 0.7, "ci": [0.1, 0.3], "n": 3, "name": "x"}]}) == "value.rows[0].ci[1]"
    assert first_difference(a, {"rows": [{"auc": 0.7, "ci": [0.1], "n": 3, "name": "x"}]}) == "value.rows[0].ci"
    assert first_difference(a, {"rows": [{"auc": 0.7, "ci": [0.1, 0.2], "n": 3}]}) == "value.rows[0]"
    assert first_difference({"x": float("nan")}, {"x": float("nan")}) is None
    assert first_difference({"x": "1"}, {"x": 1}) == "value.x" and first_difference([1], 1) == "value"


def json_copy(value):
    import json

    return json.loads(json.dumps(value))


def test_metric_names_are_their_json_strings():
    import json

    from mia_repro.evaluation.metrics import FPR_LEVELS, Metric
    block = {"tpr_at_0.1pct_fpr": 0.25, "auc": 0.5}
    assert block[Metric.TPR_AT_0_1PCT_FPR] == 0.25 and {Metric.AUC: 1}["auc"] == 1
    assert json.dumps({Metric.AUC: Metric.AUC}) == '{"auc": "auc"}' and f"{Metric.AUC:>5}" == "  auc"
    assert Metric("tpr_at_1pct_fpr") is Metric.TPR_AT_1PCT_FPR and Metric.TPR_AT_0PCT_FPR.ci95 == "tpr_at_0pct_fpr_ci95"
    assert list(FPR_LEVELS.values()) == [0.01, 0.001, 0.0] and Metric.AUC.fpr_level is None
    # every key attack_metrics publishes is a plain str, its Metric where it has one
    m = attack_metrics(MEMBER, np.arange(8.0), np.ones(8, int), bootstrap=5).to_dict()
    assert all(type(k) is str for k in m) and all(type(k) is str for k in m["fp_allowed"])
    assert {x.value for x in Metric} <= set(m)


def test_roc_curve_answers_match_sklearn_bit_for_bit_on_tied_scores():
    from sklearn import metrics as skm

    from mia_repro.evaluation.metrics import RocCurve
    rng = np.random.default_rng(3)
    member = rng.random(400) < 0.4
    score = np.round(rng.normal(member * 0.7, 1.0), 1)  # one decimal: many ties, mixed groups
    roc = RocCurve.of(member, score)
    fpr, tpr, _ = skm.roc_curve(member, score)
    assert roc.auc == skm.roc_auc_score(member, score)
    assert roc.advantage == np.max(tpr - fpr)
    for level in (0.0, 0.001, 0.01, 0.1, 0.5):
        assert roc.tpr_at(level) == tpr[fpr <= level].max()


def test_roc_curve_hand_cases():
    from mia_repro.evaluation.metrics import MetricInputError, RocCurve
    # members 0.9, 0.4; non-members 0.5, 0.1: at FPR 0 only 0.9 is called member (TPR 1/2, PPV 1); at FPR
    # 1/2 the threshold 0.4 calls 0.9, 0.5, 0.4 (TPR 1, PPV 2/3)
    roc = RocCurve.of([True, True, False, False], [0.9, 0.4, 0.5, 0.1])
    assert (roc.auc, roc.tpr_at(0.0), roc.ppv_at(0.0), roc.advantage) == (0.75, 0.5, 1.0, 0.5)
    assert roc.tpr_at(0.5) == 1.0 and roc.ppv_at(0.5) == pytest.approx(2 / 3)
    assert roc.tpr_at(0.49) == 0.5
    # a perfectly inverted attack calls nobody at FPR 0: PPV undefined
    inv = RocCurve.of([True, False], [0.0, 1.0])
    assert inv.tpr_at(0.0) == 0.0 and np.isnan(inv.ppv_at(0.0))
    one = RocCurve.of([True, True], [0.1, 0.2])
    assert not one.defined and all(np.isnan(x) for x in (one.auc, one.advantage, one.tpr_at(0.01), one.ppv_at(0.01)))
    with pytest.raises(MetricInputError, match="fpr_level"):
        roc.tpr_at(1.0)
    assert attack_metrics(MEMBER, np.arange(8.0), np.ones(8, int)).roc.n_nonmembers == 4


@pytest.mark.parametrize("scores", ["distinct", "ties", "pairs"])
def test_bootstrap_draws_are_sklearns_roc_curve_on_each_resample_to_the_bit(scores):
    """Each resample's TPR is that of ``sklearn.metrics.roc_curve`` on the resampled records (collinear points
    dropped, as roc_curve drops them): the intervals are those of the plain loop over roc_curve, bit for bit."""
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(3)
    n = 60 if scores == "pairs" else 700
    member = rng.random(n) < 0.4
    score = {"distinct": lambda: rng.normal(size=n) + member,
             "ties": lambda: rng.integers(0, 12, n) * 0.25 - 1.0,  # 12 values
             "pairs": lambda: np.repeat(np.arange(n // 2) / 7, 2)}[scores]()  # two records per value
    score[:4] = [0.0, -0.0, 0.0, -0.0] if scores != "distinct" else score[:4]  # signed zeros are one score
    levels = {"a": 0.0, "b": 0.01, "c": 0.05, "d": 0.3}
    pos, neg = np.flatnonzero(member), np.flatnonzero(~member)
    draws, undropped = {k: [] for k in levels}, {k: [] for k in levels}
    loop_rng, n_boot = np.random.default_rng(11), 5 if scores == "pairs" else 60
    for _ in range(n_boot):
        idx = np.r_[loop_rng.choice(pos, len(pos)), loop_rng.choice(neg, len(neg))]
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        for out, drop in ((draws, True), (undropped, False)):
            fpr, tpr, _ = roc_curve(labels, score[idx], drop_intermediate=drop)
            for k, level in levels.items():
                out[k].append(tpr[fpr <= level].max())

    def intervals(d):
        return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in d.items()}

    assert bootstrap_tpr_intervals(member, score, n_boot=n_boot, seed=11, levels=levels) == intervals(draws)
    if scores == "pairs":  # a case where the dropped points decide an interval: the dropping is exercised
        assert intervals(draws) != intervals(undropped)


def test_precision_recall_and_accuracy_are_sklearns_to_the_bit_on_every_corner():
    """Counted, not passed through sklearn: the same numbers as ``precision_score``, ``recall_score``
    (``zero_division=0``) and ``accuracy_score``, on random cases and on those with nothing called, no member,
    nothing but members and one record."""
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    rng = np.random.default_rng(5)
    cases = [(rng.random(n) < p, rng.random(n) < c) for n in (1, 2, 3, 7, 50, 999) for p in (0.0, 0.3, 1.0)
             for c in (0.0, 0.5, 1.0)]
    for member, called in cases:
        m = attack_metrics(member, rng.normal(size=len(member)), called.astype(int))
        assert m.precision == precision_score(member, called, zero_division=0)
        assert m.recall == recall_score(member, called, zero_division=0)
        assert m.accuracy == accuracy_score(member, called)
        assert all(type(v) is float for v in (m.precision, m.recall, m.accuracy))
