"""The attacks of mia_repro.attacks on synthetic outputs whose answer is known by construction."""
import dataclasses

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

from fakes import fake_stage1
from mia_repro.attacks import (ATTACKS, AttackerView, AttackInputError, AugmentationAttack, GapAttack, LiRAOffline,
                               RMIAOffline)
from mia_repro.attacks.signals import logit_confidence, cross_entropy
from mia_repro.attacks.reference import ReferenceProblem
from mia_repro.attacks.metric import modified_entropy
from mia_repro.attacks.rmia import rmia_score
from mia_repro.attacks.config import AttackConfig

FAST_SVM = AttackConfig(C_grid=(1.0,), gamma_grid=(1.0,), cv_folds=2, cv_samples=100, fit_samples=200, n_jobs=1)


def run_all(so, labels):
    view = AttackerView.from_stage1(so, labels)
    out = {}
    for name, cls in ATTACKS.items():
        attack = cls(cfg=FAST_SVM) if name.startswith("shokri_svm") else cls()
        attack.fit(view)
        out[name] = (attack.score(view), attack.predict(view), attack.threshold_)
    return out


@pytest.fixture(scope="module")
def leaky():
    so, labels = fake_stage1(leak=6.0, difficulty=0.5)
    return so, labels, run_all(so, labels)


def test_every_attack_separates_separable_members(leaky):
    so, _, results = leaky
    for name, (score, pred, _) in results.items():
        auc = roc_auc_score(so.target.member, score)
        floor = 0.7 if name.startswith("label_only") else 0.9  # labels carry less than scores
        assert auc > floor, (name, auc)
        assert set(np.unique(pred)) <= {0, 1} and score.shape == (600,)


def test_every_attack_is_chance_when_members_look_like_non_members():
    so, labels = fake_stage1(leak=0.0, difficulty=1.0, seed=3)
    for name, (score, _, _) in run_all(so, labels).items():
        assert abs(roc_auc_score(so.target.member, score) - 0.5) < 0.08, name


def test_reference_attacks_win_where_records_differ_in_difficulty():
    """Per-record calibration is what LiRA and RMIA add: with hard and easy records it must pay off."""
    so, labels = fake_stage1(leak=1.5, difficulty=3.0, n_shadows=6, seed=5)
    r = run_all(so, labels)
    auc = {k: roc_auc_score(so.target.member, v[0]) for k, v in r.items()}
    for ref in ("lira_offline", "lira_offline_global", "rmia_offline", "calibrated_loss"):
        assert auc[ref] > auc["loss_threshold"] + 0.05, auc


def test_attacks_never_see_target_membership(leaky):
    """Permuting the target's membership labels changes nothing an attack computes."""
    so, labels, results = leaky
    rng = np.random.default_rng(0)
    shuffled = dataclasses.replace(so, target=dataclasses.replace(so.target, member=rng.permutation(so.target.member)))
    view = AttackerView.from_stage1(shuffled, labels)
    assert not any("member" in f.name and "pop" not in f.name for f in dataclasses.fields(view)
                   if f.name not in ("shadows", "simulation"))
    again = run_all(shuffled, labels)
    for name, (score, pred, thr) in results.items():
        np.testing.assert_array_equal(again[name][0], score, err_msg=name)
        np.testing.assert_array_equal(again[name][1], pred, err_msg=name)
        np.testing.assert_array_equal(again[name][2], thr, err_msg=name)


def test_view_rejects_shadows_with_other_reference_records():
    so, labels = fake_stage1()
    bad = dataclasses.replace(so.shadows[0], ref_indices=so.shadows[0].ref_indices + 1)
    with pytest.raises(ValueError, match="reference records differ"):
        AttackerView.from_stage1(dataclasses.replace(so, shadows=[bad, *so.shadows[1:]]), labels)


def _two_class(phi):
    """Logits of a 2-class model whose logit-scaled confidence in class 0 is ``phi``."""
    phi = np.asarray(phi, float)
    return np.stack([phi, np.zeros_like(phi)], axis=-1)


def test_signals_are_stable_and_correct():
    z = np.array([[40.0, 0.0, -5.0], [0.0, 1.0, 2.0]])
    y = np.array([0, 2])
    p = np.exp(z - logsumexp(z, 1, keepdims=True))
    # float32 p_y rounds to 1 at logit 40; the stable form does not
    assert np.float32(p[0, 0]) == 1.0 and np.isfinite(logit_confidence(z, y)).all()
    assert logit_confidence(z, y)[1] == pytest.approx(np.log(p[1, 2]) - np.log(1 - p[1, 2]))
    assert cross_entropy(z, y)[1] == pytest.approx(-np.log(p[1, 2]))
    m = modified_entropy(z[1:], y[1:])[0]
    pi = p[1]
    expect = -(1 - pi[2]) * np.log(pi[2]) - pi[0] * np.log(1 - pi[0]) - pi[1] * np.log(1 - pi[1])
    assert m == pytest.approx(expect)


def test_lira_against_a_hand_computed_two_gaussian_case():
    # reference phi for record 0: 1, 2, 3 (mean 2, sd 1); record 1: 0, 0, 3 (mean 1, sd sqrt(3))
    ref_phi = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 3.0]])
    target_phi = np.array([4.0, 1.0])
    p = ReferenceProblem(_two_class(target_phi), np.array([0, 0]), _two_class(ref_phi), np.ones((3, 2), bool),
                         None, None, None, None)
    np.testing.assert_allclose(LiRAOffline().problem_score(p), [(4 - 2) / 1, (1 - 1) / np.sqrt(3)], rtol=1e-9)
    # global variance: residuals -1,0,1 and -1,-1,2 -> sum of squares 8 over 6 - 2 = 4 degrees of freedom
    np.testing.assert_allclose(LiRAOffline(variance="global").problem_score(p), [2 / np.sqrt(2), 0.0], rtol=1e-9, atol=1e-12)


def test_rmia_against_a_hand_computed_case():
    def probs_to_logits(p):  # 2 classes, class 0 true: p_y = p
        p = np.asarray(p, float)
        return np.stack([np.log(p), np.log(1 - p)], axis=-1)

    a, gamma = 0.5, 1.0
    # one record x: target p 0.9, references 0.5 and 0.7 -> mean 0.6 -> Pr(x) = 0.5 * (1.5*0.6 + 0.5) = 0.7
    # population z1, z2, z3: target p 0.6, 0.9, 0.3; one reference each at 0.6 -> Pr(z) = 0.5 * (0.9 + 0.5) = 0.7
    p = ReferenceProblem(probs_to_logits([0.9]), np.array([0]), probs_to_logits([[0.5], [0.7]]), np.ones((2, 1), bool),
                         probs_to_logits([0.6, 0.9, 0.3]), np.array([0, 0, 0]), probs_to_logits([[0.6, 0.6, 0.6]]),
                         np.ones((1, 3), bool))
    # ratio_x = 0.9/0.7; ratio_z = 0.6/0.7, 0.9/0.7, 0.3/0.7 -> LR >= 1 for all three (the tie counts)
    # plus the tie-break (1/2 + arctan(log(0.9/0.7)) / pi) / (P + 1), P = 3 population records
    tie = (0.5 + np.arctan(np.log(0.9 / 0.7)) / np.pi) / 4
    assert rmia_score(p, a, gamma)[0] == pytest.approx(1.0 + tie, rel=1e-12)
    # gamma 1.2: LR(x, z2) = 1 < 1.2, the others 1.5 and 3 -> 2/3
    assert rmia_score(p, a, 1.2)[0] == pytest.approx(2 / 3 + tie, rel=1e-12)
    # a reference that trained on z2 (not OUT) is ignored: z2 has no OUT reference and is dropped -> 2/2, P = 2
    p.pop_ref_out[0, 1] = False
    assert rmia_score(p, a, 1.2)[0] == pytest.approx(1.0 + tie * 4 / 3, rel=1e-12)


def test_rmia_tie_break_orders_records_that_dominate_every_population_record_and_never_reorders_fractions():
    def logits(p):
        p = np.asarray(p, float)
        return np.stack([np.log(p), np.log1p(-p)], axis=-1)

    # three records x, all with LR >= 1 against both population records; p_y 0.99, 0.999, 0.95 against Pr(x) = 0.5
    # (a = 0: Pr = (mean + 1) / 2 with one reference at p = 0); a fourth record beats only one population record
    x = [0.99, 0.999, 0.95, 0.3]
    refs = [[1e-12, 1e-12, 1e-12, 1e-12]]
    p = ReferenceProblem(logits(x), np.zeros(4, np.int64), logits(refs), np.ones((1, 4), bool),
                         logits([0.6, 0.2]), np.zeros(2, np.int64), logits([[0.6, 0.2]]), np.ones((1, 2), bool))
    # Pr(z) = (0.6 + 1) / 2 = 0.8 and (0.2 + 1) / 2 = 0.6 -> ratio_z = 0.75, 0.333; ratio_x = 2 p_y
    s = rmia_score(p, 0.0, 1.0)
    assert (np.floor(s * 2) == [2, 2, 2, 1]).all()  # fractions 1, 1, 1, 1/2 (2 population records)
    assert s[1] > s[0] > s[2] > s[3]  # ties broken by p_y(x) / Pr(x)
    assert s[2] - 1 < 1 / 3 and s[3] - 0.5 < 1 / 3  # the tie-break stays below one step (1 / (P + 1))


def test_rmia_chooses_gamma_and_a_on_the_simulation_and_records_every_simulated_auc():
    so, labels = fake_stage1(n=60, n_shadows=4, pool=600, population=200)
    view = AttackerView.from_stage1(so, labels)
    attack = RMIAOffline(a_grid=(0.0, 0.5, 1.0), gamma_grid=(1.0, 2.0)).fit(view)
    aucs = attack.info_["simulated_auc"]
    assert set(aucs) == {"gamma=1", "gamma=2"} and all(set(v) == {"a=0", "a=0.5", "a=1"} for v in aucs.values())
    best = max(v for g in aucs.values() for v in g.values())
    assert aucs[f"gamma={attack.gamma_:g}"][f"a={attack.a_:g}"] == best
    assert (attack.info_["a"], attack.info_["gamma"]) == (attack.a_, attack.gamma_)
    assert (attack.a, attack.gamma) == (0.3, 1.0)  # fit leaves the parameters as given
    # the chosen pair is what scores: the same as an untuned attack fixed at it
    fixed = RMIAOffline(a=attack.a_, gamma=attack.gamma_, tune=False).fit(view)
    np.testing.assert_array_equal(fixed.score(view), attack.score(view))
    assert fixed.threshold_ == attack.threshold_


def test_label_only_on_hand_made_labels():
    so, labels = fake_stage1(n=4, n_shadows=2, pool=40, population=10, n_aug=2)
    view = AttackerView.from_stage1(so, labels)
    y = view.true_class
    wrong = (y + 1) % 10
    view.target_logits = np.eye(10, dtype=np.float32)[np.r_[y[:4], wrong[4:]]]
    view.target_aug_labels = np.stack([np.r_[y[:2], wrong[2:]], np.r_[y[:1], wrong[1:]]]).astype(np.int16)
    gap = GapAttack().fit(view)
    np.testing.assert_array_equal(gap.score(view), [1, 1, 1, 1, 0, 0, 0, 0])
    assert gap.threshold_ == 1.0 and gap.score(view).dtype == np.float64
    np.testing.assert_array_equal(gap.predict(view), [1, 1, 1, 1, 0, 0, 0, 0])  # correct => member
    aug = AugmentationAttack().fit(view)
    np.testing.assert_array_equal(aug.score(view), [3, 2, 1, 1, 0, 0, 0, 0])
    assert aug.info_ == {"queries": 3} and aug.score(view).dtype == np.float64  # the record and its 2 augmentations
    np.testing.assert_array_equal(aug.predict(view), (aug.score(view) >= aug.threshold_).astype(int))


def test_augmentation_threshold_is_learnt_on_the_shadows_own_augmented_queries():
    """Two shadows of 4 records (2 members each) whose counts are known: members answer 3 and 2 of 3 queries
    correctly, non-members 1 and 0; the balanced threshold between them is 2, so the target's records with
    2 or more correct answers are called members."""
    so, labels = fake_stage1(n=2, n_shadows=2, pool=40, population=10, n_aug=2)
    view = AttackerView.from_stage1(so, labels)
    for s in view.shadows:
        y = s.true_class
        wrong = (y + 1) % 10
        s.logits = np.eye(10, dtype=np.float32)[np.r_[y[:2], wrong[2:]]] * 5  # members right, non-members wrong
        s.aug_labels = np.stack([np.r_[y[:2], wrong[2:3], y[3:]], np.r_[y[:1], wrong[1:]]]).astype(np.int16)
        # counts: member 0: 1+1+1 = 3, member 1: 1+1+0 = 2, non-member 2: 0+0+0 = 0, non-member 3: 0+1+0 = 1
    aug = AugmentationAttack().fit(view)
    assert aug.threshold_ == 2.0


def _view(n_shadows=3, **damage):
    """The attacker's view of synthetic Stage I outputs, with ``damage`` (field -> function of the array) applied."""
    import dataclasses

    from mia_repro.attacks import AttackerView
    from fakes import fake_stage1

    so, labels = fake_stage1(n=60, n_shadows=n_shadows, pool=600, population=120)
    view = AttackerView.from_stage1(so, labels)
    return dataclasses.replace(view, **{k: f(getattr(view, k)) for k, f in damage.items()}) if damage else view


@pytest.mark.parametrize("field, damage, message", [
    ("target_logits", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 7, np.nan, a), "target_logits: 1 non-finite"),
    ("ref_logits", lambda a: np.where(np.arange(a.size).reshape(a.shape) < 3, np.inf, a), "ref_logits: 3 non-finite"),
    ("target_probs", lambda a: a[:-1], r"target_probs: expected shape \(120, 10\), got \(119, 10\)"),
    ("true_class", lambda a: a.astype(np.float64), "true_class: expected integers"),
    ("true_class", lambda a: a + 10, r"true_class: classes must lie in 0..9"),
    ("ref_logits", lambda a: a[:, :, :5], r"ref_logits: expected shape \(3, 120, 10\)"),
])
def test_the_view_names_the_bad_argument(field, damage, message):
    from mia_repro.attacks import AttackInputError

    with pytest.raises(AttackInputError, match=message):
        _view(**{field: damage})


@pytest.mark.parametrize("name", ["lira_offline", "lira_offline_global", "rmia_offline"])
def test_a_reference_attack_with_one_shadow_says_it_needs_two(name):
    from mia_repro.attacks import ATTACKS, AttackInputError

    with pytest.raises(AttackInputError, match="shadows: .* needs at least 2 shadow models .* got 1"):
        ATTACKS[name]().fit(_view(n_shadows=1))


def test_signals_stay_exact_where_float64_softmax_rounds_to_one():
    """Losses far below 1e-16: logsumexp(z) - z_y gives exactly 0 for all of them (ties); softplus(-phi) does not."""
    z = np.array([[40.0, 0.0], [41.0, 0.0], [50.0, 0.0], [40.0, 1.0]])
    y = np.zeros(4, np.int64)
    loss = cross_entropy(z, y)
    np.testing.assert_allclose(loss, np.exp([-40.0, -41.0, -50.0, -39.0]), rtol=1e-12)  # log1p(x) = x here
    assert len(np.unique(loss)) == 4
    # Mentr = -(1 - p_y) log p_y - p_1 log(1 - p_1) ~ 2 e^{-2 gap} for a 2-class record with p_1 = e^{-gap}
    np.testing.assert_allclose(modified_entropy(z, y), 2 * np.exp(-2 * np.array([40.0, 41.0, 50.0, 39.0])), rtol=1e-9)
    # a confidently wrong record: p_1 near 1, log(1 - p_1) from the logsumexp branch
    wrong = np.array([[0.0, 30.0]])
    p_y, p_1 = np.exp(-np.logaddexp(0, 30.0)), np.exp(-np.logaddexp(0, -30.0))
    ref = -(1 - p_y) * np.log(p_y) - p_1 * (np.log(p_y))  # log(1 - p_1) = log p_y with two classes
    np.testing.assert_allclose(modified_entropy(wrong, np.array([0])), [ref], rtol=1e-12)


def test_global_loss_threshold_is_one_threshold_where_per_class_thresholds_differ_by_hand():
    from mia_repro.attacks import GlobalLossThreshold, LossThreshold
    from mia_repro.views.arrays import view_from_arrays

    def logits_for(loss, y):  # 2 classes: the other logit set so that -log p_y = loss
        other = np.log(np.expm1(np.asarray(loss, float)))
        z = np.zeros((len(loss), 2))
        z[np.arange(len(loss)), 1 - np.asarray(y)] = other
        return z

    loss = np.array([0.1, 0.2, 0.25, 0.3, 0.4, 1.0, 1.1, 1.2, 1.3])
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    member = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0], bool)
    # the target is another model: its losses 1% below the shadow's (identical outputs would be refused as a copy)
    view = view_from_arrays(y, [y], [member], target_logits=logits_for(0.99 * loss, y),
                            shadow_logits=[logits_for(loss, y)])
    shadow = view.shadows[0]
    np.testing.assert_allclose(cross_entropy(shadow.logits, y), loss, rtol=1e-12)
    g = GlobalLossThreshold().fit(view)
    # -loss >= t: t = -0.25 gives TPR 3/5, FPR 0 (0.6); t = -1.1 gives TPR 1, FPR 1/2 (0.5): the first wins
    assert g.threshold_ == pytest.approx(-0.25)
    np.testing.assert_array_equal(g.predict(view), [1, 1, 1, 0, 0, 0, 0, 0, 0])
    # per class: class 0 at -0.25, class 1 at -1.1 -> every record right
    pc = LossThreshold().fit(view)
    np.testing.assert_allclose(pc.taus_, [-0.25, -1.1])
    np.testing.assert_array_equal(pc.predict(view), member.astype(int))
    assert g.label.endswith("(global, Yeom)") and pc.label.endswith("(per-class)")


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("method", ["score", "predict"])
def test_score_or_predict_before_fit_is_scikit_learns_not_fitted_error_naming_the_attack(name, method):
    from sklearn.exceptions import NotFittedError

    so, labels = fake_stage1(n=20, n_shadows=3, pool=300, population=40)
    view = AttackerView.from_stage1(so, labels)
    with pytest.raises(NotFittedError, match=f"{name} is not fitted: call fit"):
        getattr(ATTACKS[name](), method)(view)


def test_the_view_refuses_softmax_as_logits_and_logits_as_probabilities():
    import dataclasses

    view = _view()
    with pytest.raises(AttackInputError, match="target_logits: these look like probabilities"):
        dataclasses.replace(view, target_logits=view.target_probs)
    with pytest.raises(AttackInputError, match="target_probs: not probabilities"):
        dataclasses.replace(view, target_probs=view.target_logits)


def test_lira_with_one_two_and_many_out_references_and_in_references_masked_out():
    """Four records, four references; OUT masks give records 1, 2, 4 and 3 OUT references (the others are IN and
    must be ignored). A record with fewer than two OUT references uses the pooled standard deviation."""
    ref_phi = np.array([[1.0, 0.0, 5.0, 2.0],
                        [9.0, 2.0, 6.0, 4.0],
                        [9.0, 9.0, 7.0, 9.0],
                        [9.0, 9.0, 8.0, 0.0]])
    out = np.array([[1, 1, 1, 1],
                    [0, 1, 1, 1],
                    [0, 0, 1, 0],
                    [0, 0, 1, 1]], bool)
    target_phi = np.array([3.0, 4.0, 9.0, 5.0])
    p = ReferenceProblem(_two_class(target_phi), np.zeros(4, np.int64), _two_class(ref_phi), out,
                         None, None, None, None)
    # per record over OUT entries: means 1, 1, 6.5, 2; ddof-1 sds: -, sqrt(2), sqrt(5/3), 2
    # pooled: squared residuals 0 | 1 + 1 | 2.25 + .25 + .25 + 2.25 | 0 + 4 + 4 = 15 over 10 - 4 = 6 dof
    pooled = np.sqrt(15 / 6)
    want = [(3 - 1) / pooled, (4 - 1) / np.sqrt(2), (9 - 6.5) / np.sqrt(5 / 3), (5 - 2) / 2]
    np.testing.assert_allclose(LiRAOffline().problem_score(p), want, rtol=1e-9)
    np.testing.assert_allclose(LiRAOffline(variance="global").problem_score(p), [2 / pooled, 3 / pooled, 2.5 / pooled, 3 / pooled],
                               rtol=1e-9)


def test_class_thresholds_by_hand_with_one_label_and_absent_classes():
    """Metric (smaller = member) of 3 members and 6 non-members in classes 0-2 and none in class 3:
    class 0: members 0.1, 0.2, non-members 0.9, 1.0 -> threshold on -metric -0.2; class 1: member 0.5,
    non-members 0.4, 0.7 -> -0.5; class 2: non-members only (0.05, 0.15) and class 3 (absent) take the pooled
    threshold: on all records TPR - FPR is 1/3 - 1/6, 2/3 - 2/6 and 1 - 3/6 at -0.1, -0.2, -0.5 -> -0.5."""
    from mia_repro.attacks.metric import class_thresholds

    metric = np.array([0.1, 0.2, 0.9, 1.0, 0.5, 0.4, 0.7, 0.05, 0.15])
    true_class = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    member = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
    taus = class_thresholds(metric, true_class, member, 4)
    np.testing.assert_array_equal(taus, [-0.2, -0.5, -0.5, -0.5])
    members_only = class_thresholds(metric, np.where(np.arange(9) < 2, 3, true_class), member, 4)
    assert members_only[3] == -0.5  # class 3: the two members only -> pooled


def test_lira_pooled_std_divides_by_entries_minus_records():
    from mia_repro.attacks.lira import pooled_std

    # one record, two OUT values 1 and 3 around their mean 2: sum of squares 2 over 2 - 1 = 1 degree of freedom
    assert pooled_std(np.array([[1.0], [3.0]]), np.ones((2, 1), bool), np.array([2.0])) == pytest.approx(np.sqrt(2.0))
    # two records (3 + 2 kept entries): sum of squares (1 + 0 + 1) + (4 + 4) = 10 over 5 - 2 = 3
    values = np.array([[1.0, 0.0], [2.0, 4.0], [3.0, 100.0], [9.0, 2.0]])
    mask = np.array([[1, 1], [1, 0], [1, 0], [0, 1]], bool)
    got = pooled_std(values, mask, np.array([2.0, 2.0]))
    assert got == pytest.approx(np.sqrt((1 + 0 + 1 + 4 + 0) / 3))


def _rmia_problem(pop_logits_true, ref_pop_true, x_true=5.0, ref_x_true=0.0):
    """A ReferenceProblem with one target record and the given population (true-class logits; 2 classes)."""
    from mia_repro.attacks.reference import ReferenceProblem

    two = lambda t: np.stack([np.asarray(t, float), np.zeros_like(np.asarray(t, float))], axis=-1)
    P = len(pop_logits_true)
    return ReferenceProblem(logits=two([x_true]), true_class=np.array([0]), ref_logits=two([[ref_x_true]]),
                            ref_out=np.ones((1, 1), bool), pop_logits=two(pop_logits_true), pop_true_class=np.zeros(P, int),
                            pop_ref_logits=two([ref_pop_true]), pop_ref_out=np.ones((1, P), bool))


def test_rmia_with_one_population_record_and_a_reference_at_probability_zero():
    import warnings

    from mia_repro.attacks.rmia import rmia_score

    # the target record's ratio beats the single population record's: fraction 1/1, plus a tie-break below 1/2
    s = rmia_score(_rmia_problem([0.0], [0.0]), a=0.3, gamma=1.0)
    assert 1.0 <= s[0] < 1.5
    # a = 1 and the reference gives the true class probability 0 (logit -1000): Pr(x) = 0, ratio +inf, first,
    # without a divide-by-zero warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = rmia_score(_rmia_problem([0.0, 1.0], [0.0, 0.0], ref_x_true=-1000.0), a=1.0, gamma=1.0)
    assert s[0] == pytest.approx(1.0 + 1.0 / 3)  # fraction 2/2, tie-break (1/2 + 1/2) / 3


def test_rmia_records_what_it_chose_and_on_how_many_records():
    from mia_repro.attacks.reference import simulated_problems

    so, labels = fake_stage1(n=20, n_shadows=3, pool=200, population=30)
    view = AttackerView.from_stage1(so, labels)
    attack = RMIAOffline().fit(view)
    n = sum(len(m) for _, m in simulated_problems(view))
    assert attack.info_["simulated_records"] == n and set(attack.info_) == {"simulated_auc", "a", "gamma",
                                                                           "simulated_records"}


def test_modified_entropy_in_float64_for_float32_logits_and_rows_with_a_confident_wrong_class():
    """Two rows where a wrong class has p >= 1/2 (the branch that uses logsumexp over each row): the result
    is the direct formula's, row by row, in float64 whatever the input dtype."""
    z = np.array([[0.0, 3.0, -1.0], [2.0, -2.0, 0.5], [10.0, 0.0, 0.0]], np.float32)
    y = np.array([0, 1, 0])
    p = np.exp(z.astype(np.float64))
    p /= p.sum(1, keepdims=True)
    want = []
    for row, c in zip(p, y):
        terms = sum(-row[i] * np.log(1 - row[i]) for i in range(3) if i != c)
        want.append(terms - (1 - row[c]) * np.log(row[c]))
    got = modified_entropy(z, y)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_modified_entropy_of_saturated_rows_without_warnings():
    import warnings

    z = np.array([[1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = modified_entropy(z, np.array([0, 0, 2]))
    assert m[0] == 0.0 and m[1] == pytest.approx(1000.0 * 2, rel=1e-3) and np.isfinite(m).all()


def test_new_attack_builds_each_attack_and_names_the_unknown():
    from mia_repro.attacks import ShokriSVMFixed, new_attack

    cfg = AttackConfig(C_grid=(1.0,), gamma_grid=(1.0,))
    svm = new_attack("shokri_svm_fixed", cfg, 7)
    assert isinstance(svm, ShokriSVMFixed) and (svm.cfg, svm.seed) == (cfg, 7)
    assert type(new_attack("lira_offline")) is LiRAOffline and not hasattr(new_attack("lira_offline"), "threshold_")
    from mia_repro.attacks import ONLINE_ATTACKS

    assert [new_attack(n).name for n in ATTACKS] == list(ATTACKS)
    assert [new_attack(n).name for n in ONLINE_ATTACKS] == list(ONLINE_ATTACKS)
    assert new_attack("shokri_svm").seed == 0 and new_attack("shokri_svm").cfg is None
    with pytest.raises(ValueError) as err:
        new_attack("lira")
    from mia_repro.attacks import registry

    assert str(err.value) == "unknown attack 'lira'; choose one of " + ", ".join(registry.names())


def test_the_views_repr_names_what_it_holds():
    import dataclasses

    so, labels = fake_stage1(n=6, n_shadows=3, pool=60, population=8, n_aug=2)
    view = AttackerView.from_stage1(so, labels)
    assert repr(view) == ("AttackerView(target 'target': 12 records x 10 classes, 3 shadows (36 records), "
                          "references (3, 12, 10), population 8, 2 augmentations)")
    plain = dataclasses.replace(view, ref_logits=None, target_pop_logits=None, pop_true_class=None, simulation=None)
    assert repr(plain) == ("AttackerView(target 'target': 12 records x 10 classes, 3 shadows (36 records), "
                           "no references, 2 augmentations)")


def test_fitted_svms_round_trip_through_plain_arrays_and_score_like_scikit_learn():
    """The fitted per-class SVMs as arrays (the cache's format, no pickle) give the same scores; the numpy RBF
    decision equals scikit-learn's SVC.decision_function to 1e-12."""
    from sklearn.svm import SVC

    from mia_repro.attacks.svms import PerClassSVMs, RBFModel

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 10)), rng.random(300) < 0.5
    svc = SVC(C=10, gamma=0.3).fit(x, y)
    xt = rng.normal(size=(40, 10))
    np.testing.assert_allclose(RBFModel.from_svc(svc).decision_function(xt), svc.decision_function(xt), atol=1e-12)
    from mia_repro.attacks import ShokriSVM

    view = _view()
    fitted = ShokriSVM(cfg=FAST_SVM).fit(view)
    arrays = fitted.svms_.to_arrays()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    again = ShokriSVM.from_fitted(PerClassSVMs.from_arrays(arrays), cfg=FAST_SVM)
    np.testing.assert_array_equal(again.score(view), fitted.score(view))
    np.testing.assert_array_equal(again.threshold_, fitted.threshold_)
    np.testing.assert_array_equal(again.predict(view), fitted.predict(view))
