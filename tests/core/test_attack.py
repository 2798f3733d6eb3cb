import numpy as np
import pytest

from fakes import fake_outputs, fake_size
from mia_repro.attacks import (attack_dataset, check_disjoint, confidence_threshold, fit_class_attack,
                              fit_per_class_svms as fit_attack, stratified_subsample, true_class_confidence)
from mia_repro.attacks.config import AttackConfig

CFG = AttackConfig(C_grid=(0.1, 1.0, 10.0), gamma_grid=(0.1, 1.0, 10.0), cv_folds=3, cv_samples=300, fit_samples=400, n_jobs=1)


def test_attack_training_uses_shadows_only_and_target_is_refused():
    so = fake_size(100)
    train, test = attack_dataset(so.shadows), attack_dataset([so.target])
    assert "target" not in set(train.source)
    attack = fit_attack(train, CFG, seed=0)
    assert "target" not in attack.trained_on
    check_disjoint(attack, test)  # fine: target never fed attack training
    leaky = fit_attack(attack_dataset(so.shadows + [so.target]), CFG, seed=0)
    with pytest.raises(ValueError, match="target"):
        check_disjoint(leaky, test)


def test_per_class_svm_beats_chance_on_leaky_outputs():
    so = fake_size(300, leak=3.0)
    attack = fit_attack(attack_dataset(so.shadows), CFG, seed=0)
    test = attack_dataset([so.target])
    assert len(attack.classes) == 10
    acc = ((attack.decision_function(test) > 0) == test.member).mean()
    assert acc > 0.75


def test_grid_search_picks_the_jointly_best_pair_and_flags_edges():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 10)).astype(np.float32)
    y = (x[:, 0] + 0.2 * rng.normal(size=400) > 0)
    res = fit_class_attack(x, y, CFG, seed=0)
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    idx = stratified_subsample(y.astype(int), CFG.cv_samples, 0)
    ref = GridSearchCV(SVC(), {"C": list(CFG.C_grid), "gamma": list(CFG.gamma_grid)},
                       cv=StratifiedKFold(3, shuffle=True, random_state=0)).fit(x[idx], y[idx].astype(int))
    assert (res.C, res.gamma) == (ref.best_params_["C"], ref.best_params_["gamma"])
    assert res.cv_accuracy == pytest.approx(ref.best_score_)
    on_edge = res.C in (0.1, 10.0) or res.gamma in (0.1, 10.0)
    assert res.edge_hit == on_edge


def test_single_label_class_gives_constant_attack():
    x = np.zeros((5, 10), np.float32)
    res = fit_class_attack(x, np.ones(5, bool), CFG, seed=0)
    assert res.constant == 1 and (res.decision_function(x) > 0).all()


def test_subsample_is_stratified_and_seeded():
    y = np.array([0] * 900 + [1] * 100)
    a, b = stratified_subsample(y, 200, 1), stratified_subsample(y, 200, 1)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 200 and y[a].sum() == 20
    assert len(stratified_subsample(y, 5000, 1)) == 1000


def test_threshold_baseline_learns_confidence_gap():
    shadow, target = fake_outputs("shadow_00", 500, 1, leak=3.0), fake_outputs("target", 500, 2, leak=3.0)
    thr = confidence_threshold(attack_dataset([shadow]))
    test = attack_dataset([target])
    assert thr < 0  # a log-probability
    assert ((true_class_confidence(test) >= thr) == test.member).mean() > 0.7


def test_threshold_baseline_on_log_p_from_logits_breaks_float32_ties_by_hand():
    """Four shadow records whose float32 p_y all round to the largest float below 1, but whose logits differ:
    from the logits the threshold separates them exactly; the float32 probabilities would tie all four."""
    from mia_repro.attacks.view import AttackData

    gap = np.array([20.0, 21.0, 30.0, 31.0])  # true-class logit minus the other (2 classes)
    logits = np.stack([gap, np.zeros(4)], axis=1)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs = (probs / probs.sum(1, keepdims=True)).astype(np.float32)
    assert len(np.unique(probs[:, 0])) == 1  # float32 cannot tell them apart
    log_true = -np.logaddexp(0.0, -gap)  # log p_y in float64
    member = np.array([False, False, True, True])
    data = AttackData(probs, np.zeros(4, np.int64), member, np.full(4, "shadow_00"), log_true)
    thr = confidence_threshold(data)
    assert thr == pytest.approx(log_true[2])  # the lowest member score: first point with TPR 1, FPR 0
    np.testing.assert_array_equal(true_class_confidence(data) >= thr, [0, 0, 1, 1])
    # without logits (an output-side defense exposes probabilities only): the log of what is exposed, tied
    exposed = AttackData(probs, np.zeros(4, np.int64), member, np.full(4, "shadow_00"))
    assert len(np.unique(true_class_confidence(exposed))) == 1


def test_the_svms_are_seeded_choose_on_their_grid_and_separate_leaky_members_and_the_threshold_is_best():
    """Behaviour, not golden numbers: one seed, one fit; every class's pair on the grid and its edge flag
    true exactly on the grid's border; the leak found; the confidence threshold the most accurate one."""
    from sklearn.metrics import roc_auc_score

    from fakes import fake_size

    cfg = AttackConfig(C_grid=(0.1, 1.0, 10.0), gamma_grid=(0.1, 1.0, 10.0), cv_folds=3, cv_samples=200, fit_samples=300,
                       n_jobs=1)
    so = fake_size(200, n_shadows=3, seed=3, leak=1.5)
    train, test = attack_dataset(so.shadows), attack_dataset([so.target])
    svm = fit_attack(train, cfg, 7)
    np.testing.assert_array_equal(fit_attack(train, cfg, 7).decision_function(test), svm.decision_function(test))
    for c in svm.classes:
        assert c.C in cfg.C_grid and c.gamma in cfg.gamma_grid and 0.5 <= c.cv_accuracy <= 1
        assert c.edge_hit == (c.C in (0.1, 10.0) or c.gamma in (0.1, 10.0))
    assert roc_auc_score(test.member, svm.decision_function(test)) > 0.6
    thr = confidence_threshold(train)
    conf = true_class_confidence(train)

    def accuracy(t):
        return float(((conf >= t) == train.member).mean())

    assert thr <= 0 and accuracy(thr) == max(accuracy(t) for t in np.r_[conf, np.inf])


class _ScaledModel:
    """A stand-in class model whose decision value is ``scale * feature + offset``."""

    def __init__(self, scale, offset):
        self.scale, self.offset = scale, offset

    def decision_function(self, features):
        return self.scale * features[:, 0] + self.offset


def _pooling_case(scales, offsets, n=4000, seed=0):
    """Per-class attacks with the given decision scales, calibrated on 'shadow' data, applied to 'target' data."""
    from sklearn.metrics import roc_auc_score

    from mia_repro.attacks import AttackData, PerClassSVMs
    from mia_repro.attacks.svms import ClassAttack

    rng = np.random.default_rng(seed)

    def records():
        y = np.repeat(np.arange(len(scales)), n)
        member = rng.random(len(y)) < 0.5
        signal = rng.normal(member * 1.0, 1.0).astype(np.float32)[:, None]
        return AttackData(signal, y, member, np.full(len(y), "m"))

    classes = [ClassAttack(_ScaledModel(s, o), 1.0, 1.0, 0.5, False) for s, o in zip(scales, offsets)]
    shadow = records()
    for c, attack in enumerate(classes):
        d = shadow.of_class(c)
        attack.calibrate(d.features, d.member)
    attack = PerClassSVMs(classes)
    target = records()
    raw, calibrated = attack.decision_function(target), attack.probability(target)
    per_class = [roc_auc_score(target.member[target.true_class == c], raw[target.true_class == c])
                 for c in range(len(scales))]
    return roc_auc_score(target.member, raw), roc_auc_score(target.member, calibrated), per_class


def test_calibrated_pooling_equals_per_class_auc_when_classes_share_one_distribution():
    raw, calibrated, per_class = _pooling_case([1.0] * 4, [0.0] * 4)
    # the same up to the sampling noise of the four separately fitted calibrations
    assert calibrated == pytest.approx(np.mean(per_class), abs=0.01) and raw == pytest.approx(calibrated, abs=0.002)


def test_calibrated_pooling_never_below_the_worst_class_when_scales_differ():
    # class c's decision value is scaled and shifted: raw pooling mixes scales and loses rank information
    raw, calibrated, per_class = _pooling_case([0.1, 1.0, 10.0, 50.0], [5.0, -3.0, 20.0, -40.0])
    assert raw < min(per_class) - 0.05  # the defect the calibration fixes
    assert calibrated >= min(per_class) - 0.005
    assert calibrated == pytest.approx(np.mean(per_class), abs=0.01)


def test_fixed_svm_runs_no_search_and_equals_the_tuned_svm_on_a_one_point_grid(monkeypatch):
    so = fake_size(150, leak=2.0)
    train, test = attack_dataset(so.shadows), attack_dataset([so.target])
    one_point = AttackConfig(C_grid=(3.0,), gamma_grid=(0.5,), cv_folds=3, cv_samples=300, fit_samples=400, n_jobs=1)
    tuned = fit_attack(train, one_point, seed=4)
    import mia_repro.attacks.svms as svms

    def no_search(*args, **kwargs):
        raise AssertionError("the fixed SVM ran a grid search")

    monkeypatch.setattr(svms, "GridSearchCV", no_search)
    monkeypatch.setattr(svms, "cross_val_score", no_search)
    fixed = fit_attack(train, CFG, seed=4, fixed=(3.0, 0.5))  # CFG's grid is ignored
    assert [(c.C, c.gamma) for c in fixed.classes] == [(3.0, 0.5)] * 10
    assert all(np.isnan(c.cv_accuracy) and not c.edge_hit for c in fixed.classes)
    np.testing.assert_array_equal(fixed.decision_function(test), tuned.decision_function(test))
    np.testing.assert_array_equal(fixed.probability(test), tuned.probability(test))
    np.testing.assert_array_equal(fixed.boundary_scores(), tuned.boundary_scores())


def test_fixed_svm_attack_learns_from_shadows_only():
    from fakes import fake_stage1
    from mia_repro.attacks import AttackerView, ShokriSVMFixed

    so, labels = fake_stage1(n=80, n_shadows=3, pool=800, population=100)
    view = AttackerView.from_stage1(so, labels)
    cfg = AttackConfig(fixed_C=2.0, fixed_gamma=0.3, fit_samples=300, n_jobs=1)
    attack = ShokriSVMFixed(cfg=cfg, seed=1).fit(view)
    assert attack.svms_.trained_on == {s.name for s in so.shadows}
    assert (attack.info_["C"], attack.info_["gamma"]) == (2.0, 0.3)
    # membership of the target's records cannot have mattered: flipping it changes nothing
    so.target.member[:] = ~so.target.member
    again = ShokriSVMFixed(cfg=cfg, seed=1).fit(AttackerView.from_stage1(so, labels))
    np.testing.assert_array_equal(again.score(view), attack.score(view))


def test_cv_beyond_the_edge_steps_past_each_edge_the_optimum_touches():
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    from mia_repro.attacks.svms import _steps_beyond, cv_beyond_edge

    assert _steps_beyond(10.0, (0.1, 1.0, 10.0)) == [100.0]
    assert _steps_beyond(0.1, (0.1, 1.0, 10.0)) == [pytest.approx(0.01)]
    assert _steps_beyond(1.0, (0.1, 1.0, 10.0)) == []
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    # C on the upper edge, gamma interior: only C steps beyond
    out = cv_beyond_edge(x, y, cv, CFG, 10.0, 1.0, 0.9)
    assert [(p["C"], p["gamma"]) for p in out["points"]] == [(100.0, 1.0)]
    want = cross_val_score(SVC(C=100.0, gamma=1.0), x, y, cv=cv).mean()
    assert out["best_cv_accuracy"] == pytest.approx(want) and out["gain"] == pytest.approx(want - 0.9)
    assert out["standard_error"] == pytest.approx(np.sqrt(0.9 * 0.1 / 200))
    assert out["plateaued"] == (want - 0.9 < np.sqrt(0.9 * 0.1 / 200))
    # both on an edge: three points beyond (C, gamma and both)
    both = cv_beyond_edge(x, y, cv, CFG, 0.1, 10.0, 0.5)
    got = sorted((round(p["C"], 12), p["gamma"]) for p in both["points"])
    assert got == [(0.01, 10.0), (0.01, 100.0), (0.1, 100.0)]
    assert both["plateaued"] is False  # 0.5 is far below what any of them reaches


def test_tuned_fit_records_the_beyond_edge_measurement_only_when_asked_and_on_the_edge():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 10)).astype(np.float32)
    y = x[:, 0] > 0  # linear: the largest C wins, on the edge
    plain = fit_class_attack(x, y, CFG, seed=0)
    measured = fit_class_attack(x, y, CFG, seed=0, beyond_edge=True)
    assert plain.beyond is None
    assert measured.edge_hit and measured.beyond is not None and measured.beyond["points"]
    assert (measured.C, measured.gamma) == (plain.C, plain.gamma)


def _confidence_data(member_logp, nonmember_logp):
    """AttackData whose records have the given log p_y (members first), one source."""
    from mia_repro.attacks import AttackData

    logp = np.r_[member_logp, nonmember_logp].astype(np.float64)
    member = np.r_[np.ones(len(member_logp), bool), np.zeros(len(nonmember_logp), bool)]
    n = len(logp)
    probs = np.full((n, 2), 0.5, np.float32)
    return AttackData(probs, np.zeros(n, np.int64), member, np.full(n, "shadow_00"), logp)


def test_threshold_baseline_maximizes_accuracy_weighted_by_the_class_counts():
    """3 members (log p_y -0.1, -3.0, -3.5) and 5 non-members (-0.15, -1, -2, -4, -5).  Records right at each
    threshold t (member iff log p_y >= t): t = -0.1 -> 1 + 5 = 6, -0.15 -> 5, -3.5 -> 3 + 2 = 5, inf -> 5;
    so t = -0.1.  (Weighting both classes by the member count would pick -3.5.)"""
    thr = confidence_threshold(_confidence_data([-0.1, -3.0, -3.5], [-0.15, -1, -2, -4, -5]))
    assert thr == -0.1
    test = _confidence_data([-0.05, -0.1], [-0.11, -7])
    np.testing.assert_array_equal(true_class_confidence(test) >= thr, [1, 1, 0, 0])
    np.testing.assert_array_equal(true_class_confidence(test), [-0.05, -0.1, -0.11, -7])


def test_threshold_baseline_that_calls_nobody_sits_at_log_one():
    """One member below every non-member: the most accurate rule calls nobody a member (roc_curve's threshold
    +inf), kept finite as log p_y >= 0, i.e. only a record given probability exactly 1."""
    thr = confidence_threshold(_confidence_data([-3.0], [-0.5, -1, -2]))
    assert thr == 0.0
    np.testing.assert_array_equal(true_class_confidence(_confidence_data([0.0, -1e-12], [-0.5])) >= thr, [1, 0, 0])


def test_threshold_baseline_reads_probabilities_when_no_logits_are_exposed():
    """Without ``log_true`` the score is the log of the exposed p_y, and a probability of 0 scores LOG_ZERO."""
    from mia_repro.attacks import AttackData
    from mia_repro.attacks.threshold import LOG_ZERO, true_class_confidence

    probs = np.array([[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]], np.float32)
    data = AttackData(probs, np.array([1, 1, 0]), np.array([True, False, False]), np.full(3, "s"), None)
    got = true_class_confidence(data)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [np.log(0.75), LOG_ZERO, np.log(0.5)])
    # a probability of 0 ranks below every positive one a model can expose, and stays a finite score
    smallest = np.array([[np.finfo(np.float32).smallest_subnormal, 1.0], [0.0, 1.0]], np.float32)
    low = true_class_confidence(AttackData(smallest, np.array([0, 0]), np.array([True, False]), np.full(2, "s"), None))
    assert np.isfinite(low).all() and low[1] < low[0]


def test_stratified_subsample_rounds_by_the_largest_remainder_without_repeats():
    """Labels 50 / 30 / 20 of 100, 41 wanted: quotas 20.5, 12.3, 8.2 -> floors 20, 12, 8 and the one left over
    to the largest remainder (label 0): 21, 12, 8, each drawn without replacement, returned sorted."""
    y = np.r_[np.zeros(50, int), np.ones(30, int), np.full(20, 2)]
    idx = stratified_subsample(y, 41, seed=0)
    assert len(idx) == 41 and len(np.unique(idx)) == 41 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx]).tolist() == [21, 12, 8]
    # 10 of 3 / 3 / 4: quotas 3 x 0.3 = 0.9, 0.9, 1.2 -> floors 0, 0, 1; two left, to labels 0 and 1
    y2 = np.r_[np.zeros(3, int), np.ones(3, int), np.full(4, 2)]
    assert np.bincount(y2[stratified_subsample(y2, 3, seed=0)], minlength=3).tolist() == [1, 1, 1]
    np.testing.assert_array_equal(stratified_subsample(y, 100, seed=5), np.arange(100))  # all: in order
    np.testing.assert_array_equal(stratified_subsample(y, None, seed=5), np.arange(100))


def test_one_step_beyond_each_edge_and_none_inside_or_on_a_one_point_grid():
    """The points past an edge optimum: the grid's outermost ratio beyond it, for each edge it touches."""
    from sklearn.model_selection import StratifiedKFold

    from mia_repro.attacks.svms import cv_beyond_edge

    x = np.random.default_rng(2).normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)

    def beyond(C, gamma, C_grid, gamma_grid=(1.0, 5.0, 10.0)):
        cfg = AttackConfig(C_grid=C_grid, gamma_grid=gamma_grid, cv_folds=3, n_jobs=1)
        return sorted((round(p["C"], 12), round(p["gamma"], 12)) for p in cv_beyond_edge(x, y, cv, cfg, C, gamma, 0.5)["points"])

    assert beyond(10.0, 5.0, (1.0, 10.0)) == [(100.0, 5.0)] and beyond(1.0, 5.0, (1.0, 10.0)) == [(0.1, 5.0)]
    assert beyond(100.0, 5.0, (1.0, 10.0, 100.0)) == [(1000.0, 5.0)] and beyond(1.0, 5.0, (1.0, 10.0, 100.0)) == [(0.1, 5.0)]
    assert beyond(3.0, 10.0, (3.0,)) == [(3.0, 20.0)]  # a one-point C grid has no edge; gamma's upper one (10 / 5)
    assert beyond(10.0, 1.0, (1.0, 10.0, 100.0)) == [(10.0, 0.2)]  # C inside its grid, gamma on its lower edge
    one_point = AttackConfig(C_grid=(3.0,), gamma_grid=(0.5,), cv_folds=3, n_jobs=1)
    fit = fit_class_attack(x.astype(np.float32), y.astype(bool), one_point, seed=0, beyond_edge=True)
    assert fit.edge_hit is False and fit.beyond is None  # nothing to step past


@pytest.mark.parametrize("counts, cv_folds, folds", [((10, 4), 2, 2), ((10, 4), 5, 4), ((10, 1), 5, 2)],
                         ids=["as asked", "the smaller class's count", "never under 2"])
def test_the_search_runs_on_the_folds_its_docstring_names(counts, cv_folds, folds):
    """``StratifiedKFold(min(cv_folds, smaller class), shuffle=True, random_state=seed)``, at least 2 folds: the
    tuned SVM's CV accuracy is that of sklearn's search on those folds, and not on one fold more or less."""
    import warnings

    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    rng = np.random.default_rng(7)
    y = np.r_[np.zeros(counts[0], int), np.ones(counts[1], int)]
    x = (rng.normal(size=(len(y), 4)) + 0.7 * y[:, None]).astype(np.float32)
    grid = {"C": [1.0, 10.0], "gamma": [0.1, 1.0]}
    cfg = AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.1, 1.0), cv_folds=cv_folds, cv_samples=1000, fit_samples=1000,
                       n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn: a class with fewer records than folds, and
        warnings.simplefilter("ignore", RuntimeWarning)  # folds without a member to fit on (one member)
        got = fit_class_attack(x, y.astype(bool), cfg, seed=3).cv_accuracy

        def searched(k):
            cv = StratifiedKFold(k, shuffle=True, random_state=3)
            return GridSearchCV(SVC(), grid, cv=cv, scoring="accuracy").fit(x, y).best_score_

        np.testing.assert_equal(got, searched(folds))  # (one member: NaN, as sklearn's own search on 2 folds)
        others = [k for k in (folds - 1, folds + 1) if 2 <= k <= counts[1]]
        assert all(got != searched(k) for k in others)  # the fold count is seen in the accuracy


def test_a_class_with_one_label_gets_a_constant_attack():
    """Shadow records of one class that are all members (or all non-members): no SVM, no search; decision +1
    (or -1) and membership probability 1 (or 0) for every record, and calibration leaves it alone."""
    import math

    x = np.random.default_rng(0).normal(size=(5, 10)).astype(np.float32)
    for label, decision in ((True, 1.0), (False, -1.0)):
        a = fit_class_attack(x, np.full(5, label), CFG, seed=0)
        assert a.model is None and a.constant == int(label) and a.edge_hit is False and a.beyond is None
        assert math.isnan(a.C) and math.isnan(a.gamma) and math.isnan(a.cv_accuracy)
        np.testing.assert_array_equal(a.decision_function(x[:3]), [decision] * 3)
        a.calibrate(x, np.r_[np.ones(2, bool), np.zeros(3, bool)])  # mixed labels, but no model to calibrate
        assert a.calibrator is None
        np.testing.assert_array_equal(a.probability(x[:3]), [float(label)] * 3)
    one = fit_class_attack(x[:1], np.array([True]), CFG, seed=0)  # a single record
    assert one.constant == 1


def test_an_uncalibrated_class_model_says_one_half():
    from mia_repro.attacks.svms import ClassAttack

    x = np.random.default_rng(1).normal(size=(40, 3))
    y = x[:, 0] > 0
    a = fit_class_attack(x, y, CFG, seed=0, fixed=(1.0, 0.1))
    assert a.calibrator is None and (a.C, a.gamma) == (1.0, 0.1)
    np.testing.assert_array_equal(a.probability(x[:4]), [0.5] * 4)  # before calibrate: no information
    a.calibrate(x, y)
    p = a.probability(x)
    assert p.shape == (40,) and ((p > 0.5) == (a.decision_function(x) > 0)).mean() > 0.9
    assert ClassAttack(None, 0.0, 0.0, 0.0, False).probability(x[:2]).tolist() == [0.5, 0.5]
    assert ClassAttack(None, 0.0, 0.0, 0.0, False).decision_function(x[:2]).tolist() == [-1.0, -1.0]


def _noisy(n=240, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, (x[:, 0] + rng.normal(0, 1.0, n)) > 0  # noisy labels: C and gamma change the CV accuracy


def test_cv_beyond_edge_points_are_the_svms_they_name_and_a_plateau_is_reported():
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    from mia_repro.attacks.svms import cv_beyond_edge

    x, y = _noisy()
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = AttackConfig(C_grid=(0.01, 0.1), gamma_grid=(1.0, 10.0), n_jobs=1)
    out = cv_beyond_edge(x, y, cv, grid, 0.1, 10.0, 0.99)  # both on the upper edge: C 1.0 and gamma 100
    for p in out["points"]:
        want = cross_val_score(SVC(C=p["C"], gamma=p["gamma"]), x, y, cv=cv).mean()
        assert p["cv_accuracy"] == want
    accs = {(round(p["C"], 9), p["gamma"]): p["cv_accuracy"] for p in out["points"]}
    assert len(set(accs.values())) > 1  # the points differ: a point computed at another C would show
    assert out["plateaued"] is True and out["gain"] < 0  # nothing beyond beats 0.99


def test_fit_class_attack_searches_on_its_subsample_and_fits_on_the_other():
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = _noisy(400)
    cfg = AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.5,), cv_folds=3, cv_samples=150, fit_samples=200, n_jobs=1)
    a = fit_class_attack(x, y, cfg, seed=4, beyond_edge=True)
    assert a.edge_hit  # C on a two-point grid is always on its edge (gamma's one-point grid has none)
    cv_idx = stratified_subsample(y.astype(int), 150, 4)
    folds = StratifiedKFold(3, shuffle=True, random_state=4)  # the docstring's folds: both classes hold 3 or more
    search = GridSearchCV(SVC(), {"C": [1.0, 10.0], "gamma": [0.5]}, cv=folds).fit(x[cv_idx], y.astype(int)[cv_idx])
    assert (a.C, a.gamma, a.cv_accuracy) == (search.best_params_["C"], 0.5, search.best_score_)
    for p in a.beyond["points"]:  # measured on the search's own records and folds
        assert p["cv_accuracy"] == cross_val_score(SVC(C=p["C"], gamma=p["gamma"]), x[cv_idx], y.astype(int)[cv_idx],
                                                   cv=folds).mean()
    fit_idx = stratified_subsample(y.astype(int), 200, 5)  # the final fit: seed + 1, fit_samples records
    ref = SVC(C=a.C, gamma=a.gamma).fit(x[fit_idx], y.astype(int)[fit_idx])
    np.testing.assert_array_equal(a.model.support_vectors, ref.support_vectors_)  # fit on those 200 records
    np.testing.assert_allclose(a.decision_function(x), ref.decision_function(x), atol=1e-12)  # numpy RBF


def test_fit_attack_passes_progress_and_leaves_the_beyond_edge_off_by_default():
    so = fake_size(60, n_shadows=2, seed=2)
    train = attack_dataset(so.shadows)
    cfg = AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.1, 1.0), cv_folds=2, cv_samples=60, fit_samples=80, n_jobs=1)
    seen = []
    a = fit_attack(train, cfg, 3, progress=lambda it: (seen.append(1) or list(it)))
    b = fit_attack(train, cfg, 3)
    assert seen == [1] and all(c.beyond is None for c in a.classes)
    assert [(c.C, c.gamma) for c in a.classes] == [(c.C, c.gamma) for c in b.classes]
    test = attack_dataset([so.target])
    np.testing.assert_array_equal(a.decision_function(test), b.decision_function(test))
    np.testing.assert_array_equal(a.probability(test), b.probability(test))


def test_fit_attack_measures_beyond_the_edge_when_asked():
    so = fake_size(60, n_shadows=2, seed=2)
    cfg = AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.5,), cv_folds=2, cv_samples=60, fit_samples=80, n_jobs=1)
    a = fit_attack(attack_dataset(so.shadows), cfg, 3, beyond_edge=True)
    fitted = [c for c in a.classes if c.model is not None]
    assert fitted and all(c.edge_hit and c.beyond and c.beyond["points"] for c in fitted)  # C's 2-point grid: an edge


def test_the_svm_score_is_calibrated_log_odds_that_never_tie_where_the_probability_saturates():
    """Platt slopes of thousands (as on 100-epoch targets) round the calibrated probability of every record
    below the boundary to exactly 0, the boundary's own included: the log-odds keep them apart, and the class
    threshold (Platt's intercept, the log-odds at decision value 0) gives the SVM's own decision."""
    from sklearn.linear_model import LogisticRegression

    from mia_repro.attacks.svms import CONSTANT_LOG_ODDS, ClassAttack

    from mia_repro.attacks.svms import Platt

    attack = ClassAttack(_ScaledModel(1.0, 0.0), 1.0, 1.0, 0.5, False)
    attack.calibrator = Platt(3000.0, -2990.0)
    x = np.array([[-2.0], [-0.5], [-1e-3], [0.0], [1e-3], [0.999], [1.5]])
    p = attack.probability(x)
    assert (p[:5] == 0.0).all()  # saturated: five different decision values, one probability
    z = attack.log_odds(x)
    np.testing.assert_allclose(z, 3000.0 * x[:, 0] - 2990.0)
    assert len(np.unique(z)) == 7 and attack.boundary_score() == -2990.0
    np.testing.assert_array_equal(z >= attack.boundary_score(), x[:, 0] >= 0)
    # a class with one label: the label, far beyond any calibrated log-odds, threshold 0
    for label in (True, False):
        const = fit_class_attack(np.zeros((3, 2), np.float32), np.full(3, label), CFG, seed=0)
        want = CONSTANT_LOG_ODDS if label else -CONSTANT_LOG_ODDS
        assert const.log_odds(x).tolist() == [want] * 7 and const.boundary_score() == 0.0
