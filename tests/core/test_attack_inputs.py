"""The attacks' input contract: every check of AttackerView, with the exact message a user reads.

A view of 12 target records x 10 classes, 3 shadows, a population of 8 and 2 augmentations; each case breaks
one field and pins the whole message (the field named first, what was expected, what came), so a check that
stops firing, fires on the wrong field or loses its advice fails here.
"""
import dataclasses

import numpy as np
import pytest

from fakes import fake_stage1
from mia_repro.attacks import ATTACKS, AttackerView, AttackInputError
from mia_repro.attacks.view import PopulationSimulation, _need_array
from mia_repro.attacks.thresholds import balanced_threshold


@pytest.fixture(scope="module")
def view():
    so, labels = fake_stage1(n=6, n_shadows=3, pool=60, population=8, n_aug=2)
    return AttackerView.from_stage1(so, labels)


def broken(v, case):
    """The change of one field that each case makes."""
    n, c = v.target_logits.shape
    sim = v.simulation
    first = np.arange(n) == 0
    return {
        "logits_1d": dict(target_logits=v.target_logits[:, 0]),
        "logits_nan": dict(target_logits=np.where(first[:, None], np.nan, v.target_logits).astype(np.float32)),
        "logits_int": dict(target_logits=np.round(v.target_logits * 10).astype(np.int64)),
        "probs_shape": dict(target_probs=np.hstack([v.target_probs, v.target_probs[:, :1]])),
        "logits_are_probs": dict(target_logits=v.target_probs),
        "probs_are_logits": dict(target_probs=v.target_logits),
        "true_shape": dict(true_class=v.true_class[:-1]),
        "true_float": dict(true_class=v.true_class.astype(float)),
        "true_range": dict(true_class=np.where(first, c, v.true_class)),
        "true_negative": dict(true_class=np.where(first, -1, v.true_class)),
        "aug_shape": dict(target_aug_labels=v.target_aug_labels[:, :-1]),
        "aug_float": dict(target_aug_labels=v.target_aug_labels.astype(float)),
        "no_shadows": dict(shadows=[]),
        "partial_refs": dict(ref_logits=None),
        "pop_shape": dict(target_pop_logits=v.target_pop_logits[:, :-1]),
        "ref_shape": dict(ref_logits=v.ref_logits[:, :-1]),
        "pop_true_shape": dict(pop_true_class=v.pop_true_class[:-1]),
        "pop_true_float": dict(pop_true_class=v.pop_true_class.astype(float)),
        "sim_logits_shape": dict(simulation=PopulationSimulation(sim.logits[:, :-1], sim.member, sim.true_class)),
        "sim_member_shape": dict(simulation=PopulationSimulation(sim.logits, sim.member[:-1], sim.true_class)),
        "sim_member_float": dict(simulation=PopulationSimulation(sim.logits, sim.member.astype(float), sim.true_class)),
    }[case]


CASES = [
    ("logits_1d", "target_logits: expected shape (?, ?), got (12,)"),
    ("logits_nan", "target_logits: 10 non-finite values (NaN or inf); the model's outputs are unusable"),
    ("logits_int", "target_logits: expected floats, got int64"),
    ("probs_shape", "target_probs: expected shape (12, 10), got (12, 11)"),
    ("logits_are_probs", "target_logits: these look like probabilities (all in [0, 1], rows summing to 1); give the "
                         "pre-softmax outputs (mia_repro.views.arrays accepts probs= and converts them)"),
    ("probs_are_logits", "target_probs: not probabilities (values in [0, 1], rows summing to 1); logits belong in "
                         "target_logits"),
    ("true_shape", "true_class: expected shape (12,), got (11,)"),
    ("true_float", "true_class: expected integers, got float64"),
    ("true_range", "true_class: classes must lie in 0..9, got 0..10"),
    ("true_negative", "true_class: classes must lie in 0..9, got -1..9"),
    ("aug_shape", "target_aug_labels: expected shape (?, 12), got (2, 11)"),
    ("aug_float", "target_aug_labels: expected integers, got float64"),
    ("no_shadows", "shadows: the attacker needs at least one shadow model"),
    ("partial_refs", "ref_logits: the reference part of the view is all or nothing (given: target_pop_logits, "
                     "pop_true_class, simulation)"),
    ("pop_shape", "target_pop_logits: expected shape (?, 10), got (8, 9)"),
    ("ref_shape", "ref_logits: expected shape (3, 12, 10), got (3, 11, 10)"),
    ("pop_true_shape", "pop_true_class: expected shape (8,), got (7,)"),
    ("pop_true_float", "pop_true_class: expected integers, got float64"),
    ("sim_logits_shape", "simulation.logits: expected shape (3, 8, 10), got (3, 7, 10)"),
    ("sim_member_shape", "simulation.member: expected shape (3, 8), got (2, 8)"),
    ("sim_member_float", "simulation.member: expected integers, got float64"),
]


@pytest.mark.parametrize("case, message", CASES, ids=[c for c, _ in CASES])
def test_each_check_of_the_view_names_its_field_and_says_what_it_expected(view, case, message):
    with pytest.raises(AttackInputError) as err:
        dataclasses.replace(view, **broken(view, case))
    assert str(err.value) == message


def test_the_unbroken_view_and_its_defaults(view):
    assert dataclasses.replace(view) is not view  # every check passes on the view as built
    bare = dataclasses.replace(view, target_aug_labels=None)
    assert bare.target_aug_labels.shape == (0, 12) and bare.target_aug_labels.dtype == np.int64
    for probs in (np.full((12, 10), 0.1), np.eye(10)[np.arange(12) % 10]):  # rows of exactly 0 and 1 are probs
        with pytest.raises(AttackInputError, match="^target_logits: these look like probabilities"):
            dataclasses.replace(view, target_logits=probs.astype(np.float32))
    # rows summing to 1 within 1e-3 are probabilities; 2e-3 off, or any value above 1 or below 0, is not
    near = np.full((12, 10), 0.1)
    near[:, 0] += 0.0009
    dataclasses.replace(view, target_probs=near.astype(np.float32))
    over = np.zeros((12, 10))
    over[:, 0] = 1.0005  # sums to 1 within 1e-3, but a value above 1
    for bad in (np.full((12, 10), 0.1002), np.where(np.arange(10) == 0, 1.5, -0.5 / 9) * np.ones((12, 1)), over):
        with pytest.raises(AttackInputError, match="^target_probs: not probabilities"):
            dataclasses.replace(view, target_probs=bad)
    # logits that are all positive, or whose rows sum to 1, are still logits (only both together look like probs)
    z = view.target_logits.astype(np.float64)
    dataclasses.replace(view, target_logits=(z - z.min() + 0.5).astype(np.float32))
    dataclasses.replace(view, target_logits=(z - z.mean(axis=1, keepdims=True) + 0.1).astype(np.float32))


def test_without_references_the_reference_attacks_say_what_they_need(view):
    plain = dataclasses.replace(view, ref_logits=None, target_pop_logits=None, pop_true_class=None, simulation=None)
    assert not plain.has_references and view.has_references
    for name in ("lira_offline", "rmia_offline", "calibrated_loss"):
        with pytest.raises(AttackInputError) as err:
            ATTACKS[name]().fit(plain)
        assert str(err.value) == (f"{name}: a reference-model attack needs the shadows' logits on the target's records "
                                  "and a population sample (mia_repro.views.arrays: population=...; or Stage I)")


def test_target_records_are_the_views_target_with_placeholder_membership(view):
    from mia_repro.attacks.signals import cross_entropy

    d = view.target_records()
    assert d.features.dtype == np.float32 and np.array_equal(d.features, view.target_probs.astype(np.float32))
    assert d.member.dtype == bool and not d.member.any() and len(d.member) == 12
    assert list(d.source) == ["target"] * 12
    np.testing.assert_array_equal(d.log_true, -cross_entropy(view.target_logits, view.true_class))


def test_need_array_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind: 'f' .* or 'i'"):
        _need_array("x", np.zeros(3), 1, kind="I")
    assert _need_array("x", np.array([True, False]), 1, kind="i").dtype == bool


def test_balanced_threshold_needs_both_kinds_and_says_so():
    for member in (np.ones(4, bool), np.zeros(4, bool), [1, 1, 1, 1]):
        with pytest.raises(ValueError) as err:
            balanced_threshold(member, np.arange(4.0))
        assert str(err.value) == "choosing a threshold needs members and non-members in the attacker's data"
    # 0/1 integers are labels: members 2 and 3 (scores 2, 3) are separated at t = 2
    assert balanced_threshold(np.array([0, 0, 1, 1]), np.arange(4.0)) == 2.0


def test_a_new_attack_class_gets_the_fit_check_when_it_is_made(view):
    """Users subclass MembershipAttack for attacks of their own: the class made here (at test time, so the
    wrapping in ``__init_subclass__`` runs under test) refuses score / predict before fit with scikit-learn's
    NotFittedError naming it, works after fit, and a subclass that overrides nothing is not wrapped twice."""
    from sklearn.exceptions import NotFittedError

    from mia_repro.attacks.base import MembershipAttack

    class Mine(MembershipAttack):
        name = "mine"

        def fit(self, v):
            self.threshold_ = 0.5
            return self

        def decision_function(self, v):
            return np.linspace(0, 1, len(v))

    for method in ("decision_function", "predict"):
        with pytest.raises(NotFittedError) as err:
            getattr(Mine(), method)(view)
        assert str(err.value) == f"mine is not fitted: call fit(view) on the attacker's data before {method}()"
    fitted = Mine().fit(view)
    np.testing.assert_array_equal(fitted.predict(view), (np.linspace(0, 1, 12) >= 0.5).astype(int))
    assert Mine.decision_function._checks_fit is True and Mine.decision_function.__name__ == "decision_function"

    class Same(Mine):  # inherits the wrapped decision_function: not wrapped again
        pass

    assert Same.decision_function is Mine.decision_function and "decision_function" not in Same.__dict__

    class Unnamed(MembershipAttack):
        def decision_function(self, v):
            return np.zeros(len(v))

    with pytest.raises(NotFittedError, match=r"^Unnamed is not fitted"):
        Unnamed().score(view)


def test_attack_dataset_stacks_models_and_keeps_log_p_only_from_untransformed_logits():
    import dataclasses as dc

    from fakes import fake_outputs
    from mia_repro.attacks import attack_dataset
    from mia_repro.attacks.signals import cross_entropy

    a, b = fake_outputs("shadow_00", 3, seed=1), fake_outputs("shadow_01", 2, seed=2)
    d = attack_dataset([a, b])
    assert d.features.dtype == np.float32 and d.features.shape == (10, 10)
    np.testing.assert_array_equal(d.features, np.r_[a.probs, b.probs])
    np.testing.assert_array_equal(d.true_class, np.r_[a.true_class, b.true_class])
    np.testing.assert_array_equal(d.member, np.r_[a.member, b.member])
    assert list(d.source) == ["shadow_00"] * 6 + ["shadow_01"] * 4
    np.testing.assert_array_equal(d.log_true, np.r_[-cross_entropy(a.logits, a.true_class),
                                                    -cross_entropy(b.logits, b.true_class)])
    # an output-side defense transforms what the models expose: its probabilities, and no logits
    half = attack_dataset([a, b], transform=lambda p: np.asarray(p, np.float64) / 2)
    assert half.log_true is None and half.features.dtype == np.float32
    np.testing.assert_allclose(half.features, np.r_[a.probs, b.probs] / 2)
    # a model without logits (probabilities only): no log p_y for any record
    assert attack_dataset([a, dc.replace(b, logits=None)]).log_true is None
    # one class's records, every array cut alike
    c = int(d.true_class[0])
    sub = d.of_class(c)
    sel = d.true_class == c
    for name in ("features", "true_class", "member", "source", "log_true"):
        np.testing.assert_array_equal(getattr(sub, name), getattr(d, name)[sel])
    assert half.of_class(c).log_true is None


def test_masked_mean_std_by_hand():
    """Per record (column): the mean and sample standard deviation (ddof 1) of the entries its mask keeps;
    one kept entry: std 0 (divisor max(count - 1, 1)); none: mean 0, std 0, count 0."""
    from mia_repro.attacks.reference import masked_mean_std

    values = np.array([[1.0, 2.0, 5.0, 7.0], [3.0, 4.0, 9.0, 1.0], [5.0, 100.0, 1.0, 2.0]])
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], bool)
    mean, std, count = masked_mean_std(values, mask)
    np.testing.assert_array_equal(count, [3, 2, 1, 0])
    np.testing.assert_allclose(mean, [3.0, 3.0, 5.0, 0.0])
    np.testing.assert_allclose(std, [2.0, np.sqrt(2.0), 0.0, 0.0])  # [1,3,5]: var 4; [2,4]: var 2 (ddof 1)
    assert np.isfinite(std).all() and mean.dtype == np.float64


def test_the_simulation_and_the_target_problem_carry_the_right_out_masks(view):
    from mia_repro.attacks.reference import simulated_problems, target_problem

    sim = view.simulation
    logits, member, ref, ref_out = sim.as_target(1)
    np.testing.assert_array_equal(logits, sim.logits[1])
    np.testing.assert_array_equal(member, sim.member[1])
    np.testing.assert_array_equal(ref, sim.logits[[0, 2]])
    np.testing.assert_array_equal(ref_out, ~sim.member[[0, 2]])  # OUT = the reference did not train on it
    t = target_problem(view)
    assert t.ref_out.dtype == bool and t.ref_out.all() and t.ref_out.shape == (3, 12)  # shadows never saw target records
    np.testing.assert_array_equal(t.pop_ref_out, ~sim.member)
    np.testing.assert_array_equal(t.pop_ref_logits, sim.logits)
    probs = simulated_problems(view)
    assert len(probs) == 3
    for j, (problem, m) in enumerate(probs):
        keep = (~sim.member[[k for k in range(3) if k != j]]).any(axis=0)  # records with >= 1 OUT reference
        np.testing.assert_array_equal(m, sim.member[j][keep])
        np.testing.assert_array_equal(problem.logits, sim.logits[j][keep])
        np.testing.assert_array_equal(problem.ref_out, ~sim.member[[k for k in range(3) if k != j]][:, keep])


def test_two_shadows_are_enough_for_the_simulation_and_one_is_not(view):
    from mia_repro.attacks import LiRAOffline
    from mia_repro.attacks.reference import simulated_problems

    two = dataclasses.replace(view, shadows=view.shadows[:2], ref_logits=view.ref_logits[:2],
                              simulation=PopulationSimulation(view.simulation.logits[:2], view.simulation.member[:2],
                                                              view.simulation.true_class))
    assert len(simulated_problems(two)) == 2
    lira = LiRAOffline().fit(two)
    assert lira.info_["simulated_records"] == sum(len(m) for _, m in simulated_problems(two))
    assert lira.info_["simulated_members"] == sum(int(m.sum()) for _, m in simulated_problems(two))
    one = dataclasses.replace(two, shadows=view.shadows[:1], ref_logits=view.ref_logits[:1],
                              simulation=PopulationSimulation(view.simulation.logits[:1], view.simulation.member[:1],
                                                              view.simulation.true_class))
    with pytest.raises(AttackInputError) as err:
        simulated_problems(one)
    assert str(err.value) == ("shadows: the population simulation of a reference-model attack needs at least 2 shadow "
                              "models (one as target, the others as its references), got 1")


def test_reference_attacks_fitted_with_references_refuse_to_score_a_view_without(view):
    from mia_repro.attacks.reference import target_problem

    plain = dataclasses.replace(view, ref_logits=None, target_pop_logits=None, pop_true_class=None, simulation=None)
    need = ("a reference-model attack needs the shadows' logits on the target's records and a population sample "
            "(mia_repro.views.arrays: population=...; or Stage I)")
    for name in ("lira_offline", "rmia_offline", "calibrated_loss"):
        fitted = ATTACKS[name]().fit(view)
        with pytest.raises(AttackInputError) as err:
            fitted.score(plain)
        assert str(err.value) == f"{name}: {need}"
    for fn in (target_problem,):
        with pytest.raises(AttackInputError) as err:
            fn(plain)
        assert str(err.value) == f"a reference-model attack: {need}"


def test_signals_are_float64_on_float32_logits_and_work_on_stacked_models():
    from mia_repro.attacks.signals import cross_entropy, log_softmax, logit_confidence

    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (2, 5, 4)).astype(np.float32)  # 2 models x 5 records x 4 classes
    y = rng.integers(0, 4, 5)
    ls = log_softmax(z)
    assert ls.dtype == np.float64
    np.testing.assert_allclose(np.exp(ls).sum(axis=-1), 1.0, rtol=1e-12)  # normalized over classes, per model
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(ls, z64 - np.log(np.exp(z64).sum(axis=-1, keepdims=True)), rtol=1e-12)
    phi = logit_confidence(z, y)
    assert phi.dtype == np.float64 and phi.shape == (2, 5)
    p = np.exp(ls)
    py = np.take_along_axis(p, np.broadcast_to(y[None, :, None], (2, 5, 1)), axis=-1)[..., 0]
    np.testing.assert_allclose(phi, np.log(py) - np.log1p(-py), rtol=1e-9)
    np.testing.assert_allclose(cross_entropy(z[0], y), -np.log(py[0]), rtol=1e-9)


def test_from_stage1_keeps_the_targets_augmented_labels_and_name():
    from fakes import fake_stage1 as fs

    so, labels = fs(n=6, n_shadows=3, pool=60, population=8, n_aug=2)
    so = dataclasses.replace(so, target=dataclasses.replace(so.target, name="victim"))
    v = AttackerView.from_stage1(so, labels)
    assert v.target_name == "victim" and set(v.target_records().source) == {"victim"}
    np.testing.assert_array_equal(v.target_aug_labels, so.target.aug_labels)


def test_two_missing_reference_parts_are_both_named(view):
    with pytest.raises(AttackInputError) as err:
        dataclasses.replace(view, ref_logits=None, simulation=None)
    assert str(err.value) == ("ref_logits, simulation: the reference part of the view is all or nothing "
                              "(given: target_pop_logits, pop_true_class)")


def test_simulated_problems_without_references_say_what_they_need(view):
    from mia_repro.attacks.reference import simulated_problems

    plain = dataclasses.replace(view, ref_logits=None, target_pop_logits=None, pop_true_class=None, simulation=None)
    with pytest.raises(AttackInputError) as err:
        simulated_problems(plain)
    assert str(err.value).startswith("a reference-model attack: a reference-model attack needs the shadows' logits")


def test_attack_dataset_of_outputs_without_a_logits_attribute():
    from types import SimpleNamespace

    from mia_repro.attacks import attack_dataset

    o = SimpleNamespace(name="m", probs=np.full((2, 10), 0.1, np.float32), true_class=np.array([0, 1]),
                        member=np.array([True, False]))
    assert attack_dataset([o]).log_true is None


def test_a_subclass_may_not_override_predict_and_a_reassigned_method_is_not_wrapped_twice(view):
    """predict is score >= threshold_ for every attack: a subclass that overrides it is refused when made."""
    from mia_repro.attacks.base import MembershipAttack

    with pytest.raises(TypeError, match=r"^Own: predict is score >= threshold_ for every attack"):
        class Own(MembershipAttack):
            def predict(self, v):
                return np.ones(len(v), int)

    class Zero(MembershipAttack):
        name = "zero"

        def fit(self, v):
            self.threshold_ = 0.0
            return self

        def decision_function(self, v):
            return np.zeros(len(v))

    assert Zero().fit(view).predict(view).tolist() == [1] * 12

    class Again(Zero):
        decision_function = Zero.decision_function  # already checked: kept as it is

    assert Again.__dict__["decision_function"] is Zero.__dict__["decision_function"]


def test_shokri_svm_fits_with_its_seed_and_num_classes_and_decides_at_each_class_boundary():
    from fakes import fake_stage1 as fs
    from mia_repro.attacks import ShokriSVM, ShokriSVMFixed, attack_dataset, fit_per_class_svms
    from mia_repro.attacks.config import AttackConfig

    so, labels = fs(n=40, n_shadows=2, pool=300, population=30, classes=3)
    v = AttackerView.from_stage1(so, labels)
    cfg = AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.1, 1.0), cv_folds=2, cv_samples=30, fit_samples=40, n_jobs=1)
    svm = ShokriSVM(cfg=cfg, seed=5).fit(v)
    ref = fit_per_class_svms(attack_dataset(v.shadows), cfg, 5, 3)
    assert len(svm.svms_.classes) == 3
    np.testing.assert_array_equal(svm.threshold_, ref.boundary_scores())
    np.testing.assert_array_equal(svm.score(v), ref.log_odds(v.target_records()))
    p = ref.probability(v.target_records())  # the score is the calibrated probability's logit
    np.testing.assert_allclose(svm.score(v), np.log(p) - np.log1p(-p), rtol=1e-9, atol=1e-9)
    # the class threshold is the calibrated probability at decision value 0: the SVM's own decision
    decision = ref.decision_function(v.target_records())
    np.testing.assert_array_equal(svm.predict(v), (decision > 0).astype(int))
    fixed = ShokriSVMFixed(cfg=cfg, seed=5).fit(v)
    assert (fixed.info_["C"], fixed.info_["gamma"]) == (cfg.fixed_C, cfg.fixed_gamma)
    assert len(fixed.svms_.classes) == 3 and fixed.threshold_.shape == (3,)
    import math
    for c in fixed.svms_.classes:  # no search: every class at the configured pair, no CV accuracy
        assert (c.C, c.gamma) == (cfg.fixed_C, cfg.fixed_gamma) and math.isnan(c.cv_accuracy)
