"""The estimator contract: :func:`mia_repro.attacks.check_attack` passes for every registered attack and for
an attack written here, and fails, naming the rule, for attacks that each break one rule; beside it the
registry's names and the class attributes that say what an attack needs."""
import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from fakes import fake_pool, fake_stage1
from mia_repro import MiaReproError
from mia_repro.attacks import (ATTACKS, ONLINE_ATTACKS, AttackContractError, AttackerView, AttackInputError,
                               MembershipAttack, check_attack, new_attack, register, registry, unregister)
from mia_repro.attacks.config import AttackConfig
from mia_repro.evaluation.evaluate import run_attacks

FAST_SVM = AttackConfig(C_grid=(0.1, 10.0), gamma_grid=(1.0,), cv_folds=2, cv_samples=80, fit_samples=120, n_jobs=1)


class MedianGap(MembershipAttack):
    """An attack of a user's own: member iff the target's true-class logit margin exceeds the shadows'
    median margin of their members (fit on the attacker's data only)."""

    def __init__(self, quantile: float = 0.5):
        self.quantile = quantile

    def fit(self, view):
        margins = [s.logits[np.arange(len(s.member)), s.true_class][s.member] for s in view.shadows]
        self.threshold_ = float(np.quantile(np.concatenate(margins), self.quantile))
        self.info_ = {"members_seen": int(sum(len(m) for m in margins))}
        return self

    def decision_function(self, view):
        return np.asarray(view.target_logits, np.float64)[np.arange(len(view)), view.true_class]


def make(name: str) -> MembershipAttack:
    return new_attack(name, FAST_SVM, seed=3)


NAMES = list(registry.names()) + ["median_gap"]  # the package's attacks and MedianGap


@pytest.fixture(autouse=True, scope="module")
def median_gap_registered():
    """MedianGap registered as a user registers an attack, for this module's tests only."""
    register("median_gap", label="median margin (own)", paper="a test's own attack")(MedianGap)
    yield
    unregister("median_gap")


@pytest.fixture(scope="module")
def shokri_views():
    """Two views of different Stage I outputs (other records, other models), each with references and
    augmentations, so every attack of ATTACKS runs on both."""
    out = []
    for seed in (0, 1):
        so, labels = fake_stage1(n=60, n_shadows=3, pool=600, population=120, seed=seed)
        out.append(AttackerView.from_stage1(so, labels))
    return out


@pytest.fixture(scope="module")
def pool_views():
    """Two views of different reference pools (IN and OUT references): what the online attacks need."""
    return [fake_pool(m=6, n=120, p=60, seed=seed).view(0, sim_targets=3) for seed in (0, 1)]


@pytest.fixture
def views(request, shokri_views, pool_views):
    """The views the test's attack runs on: a pool's for an online attack, Stage I's otherwise."""
    name = getattr(getattr(request.node, "callspec", None), "params", {}).get("name")
    return pool_views if name in ONLINE_ATTACKS else shokri_views


def learned(attack) -> dict:
    return {k: v for k, v in vars(attack).items() if k.endswith("_") and not k.startswith("_")}


def same(a, b) -> bool:
    """Whether two learned values are equal (arrays, nested dicts and the SVMs' decision values)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if hasattr(a, "classes") and hasattr(a, "trained_on"):  # PerClassSVMs: compare what they compute
        return a.trained_on == b.trained_on and np.array_equal(a.boundary_scores(), b.boundary_scores())
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", NAMES)
def test_is_a_scikit_learn_estimator_with_class_attributes_and_parameters_only(name):
    attack = make(name)
    cls = type(attack)
    assert isinstance(attack, BaseEstimator)
    for attr in ("name", "label", "paper", "needs_references", "needs_augmentations", "needs_logits"):
        assert attr in dir(cls) and attr not in vars(attack), attr
    assert attack.name == name and attack.label and attack.paper
    assert set(vars(attack)) == set(attack.get_params(deep=False))  # nothing but the parameters
    assert not learned(attack)
    assert "array(" not in repr(attack) and len(repr(attack)) < 600


@pytest.mark.parametrize("name", NAMES)
def test_every_attack_passes_check_attack(name, views):
    done = check_attack(make(name), *views)
    assert "order invariance: permuted records, permuted scores" in done
    assert "a refit equals a fresh fit on the second view" in done and len(done) >= 19
    subset = "subset invariance: a record's score does not depend on the other records scored"
    assert (subset in done) == make(name).records_independent


class _Rule(MembershipAttack):
    """A correct attack (the target's true-class logit, threshold 0) that the cases below break once each."""

    def fit(self, view):
        self.threshold_ = 0.0
        return self

    def decision_function(self, view):
        return np.asarray(view.target_logits, np.float64)[np.arange(len(view)), view.true_class]


class _Counts(_Rule):
    def decision_function(self, view):
        self.calls_ = getattr(self, "calls_", 0) + 1  # scoring changes the fitted attack
        return super().decision_function(view)


class _Ranks(_Rule):
    def decision_function(self, view):  # a rank among the records scored: depends on the set
        return np.argsort(np.argsort(super().decision_function(view))).astype(np.float64)


class _Position(_Rule):
    def decision_function(self, view):  # depends on the order the records come in
        return super().decision_function(view) + np.arange(len(view))


class _KeepsFirst(_Rule):
    def fit(self, view):  # a private attribute survives a refit (fit clears only the learned *_ ones)
        if not hasattr(self, "_first"):
            self._first = float(np.mean(view.target_logits))
        self.threshold_ = 0.0
        return self

    def decision_function(self, view):
        return super().decision_function(view) - self._first


class _StoresData(_Rule):
    def __init__(self, k: int = 1):
        self.k = k
        self.cache = None  # not a parameter


class _Random(_Rule):
    def decision_function(self, view):
        return super().decision_function(view) + np.random.default_rng().random(len(view))


@pytest.mark.parametrize("attack, rule", [
    (_Counts(), "scoring leaves the fitted attack unchanged"),
    (_Ranks(), "subset invariance"),
    (_Position(), "order invariance"),
    (_StoresData(), "holds its parameters and nothing else"),
    (_Random(), "decision_function gives the same scores on a second call"),
])
def test_check_attack_names_the_rule_an_attack_breaks(attack, rule, views):
    check_attack(_Rule(), *views)  # the unbroken attack passes
    with pytest.raises(AttackContractError, match=rf"^{type(attack).__name__}: {rule}"):
        check_attack(attack, *views)


def test_check_attack_catches_a_fit_that_keeps_state_and_skips_subset_invariance_when_declared(views):
    assert "order invariance: permuted records, permuted scores" in check_attack(_KeepsFirst(), views[0])
    with pytest.raises(AttackContractError, match="a refit equals a fresh fit"):
        check_attack(_KeepsFirst(), *views)
    class RanksByDesign(_Ranks):
        records_independent = False  # a rank among the records scored: dependent by design, and said so

    assert not any(r.startswith("subset") for r in check_attack(RanksByDesign(), *views))
    with pytest.raises(AttackInputError, match="check_attack: view and other_view are AttackerViews"):
        check_attack(_Rule(), views[0].target_logits)


def test_score_is_decision_functions_alias_and_refuses_scikit_learns_score_signature(views):
    attack = new_attack("loss_threshold").fit(views[0])
    np.testing.assert_array_equal(attack.score(views[0]), attack.decision_function(views[0]))
    with pytest.raises(TypeError, match=r"not scikit-learn's score\(X, y\)"):
        attack.score(views[0], np.zeros(len(views[0])))
    with pytest.warns(FutureWarning, match="define decision_function"):
        class OldStyle(MembershipAttack):
            def fit(self, view):
                self.threshold_ = 0.0
                return self

            def score(self, view):
                return np.ones(len(view))
    assert "score" not in vars(OldStyle) and OldStyle().fit(views[0]).decision_function(views[0]).sum() == 120
    with pytest.raises(NotFittedError, match=r"before score\(\)"):
        OldStyle().score(views[0])


def test_take_cuts_every_per_record_array_and_keeps_the_attackers_data(views, pool_views):
    v, idx = pool_views[0], np.array([5, 0, 7])
    t = v.take(idx)
    np.testing.assert_array_equal(t.target_logits, v.target_logits[idx])
    np.testing.assert_array_equal(t.ref_logits, v.ref_logits[:, idx])
    np.testing.assert_array_equal(t.ref_in, v.ref_in[:, idx])
    assert t.shadows is v.shadows and t.simulation is v.simulation and len(t) == 3
    mask = np.zeros(len(views[0]), bool)
    mask[[1, 2]] = True
    assert len(views[0].take(mask)) == 2 and views[0].take(mask).target_aug_labels.shape[1] == 2
    with pytest.raises(AttackInputError, match="index: positions among the view's 120"):
        views[0].take([120])


def test_what_an_attack_needs_is_a_property_of_its_class():
    assert {n for n, c in ONLINE_ATTACKS.items() if c.needs_in_references and c.needs_references} == set(ONLINE_ATTACKS)
    assert not any(c.needs_in_references for c in ATTACKS.values())
    needs_refs = {n for n, c in ATTACKS.items() if c.needs_references}
    assert needs_refs == {"calibrated_loss", "lira_offline", "lira_offline_global", "rmia_offline"}
    assert {n for n, c in ATTACKS.items() if c.needs_augmentations} == {"label_only_augment"}
    assert {n for n, c in ATTACKS.items() if not c.needs_logits} == {"shokri_svm", "shokri_svm_fixed",
                                                                      "confidence_threshold"}


def test_a_view_without_what_the_attack_needs_is_refused_before_fitting(views):
    import dataclasses

    plain = dataclasses.replace(views[0], ref_logits=None, target_pop_logits=None, pop_true_class=None,
                                simulation=None, target_aug_labels=np.zeros((0, len(views[0])), np.int64))
    for name, cls in ATTACKS.items():
        attack = make(name)
        if cls.needs_references or cls.needs_augmentations:
            with pytest.raises(AttackInputError, match=rf"^{name}: "):
                attack.fit(plain)
        else:
            attack.fit(plain)
    hidden = dataclasses.replace(views[0], output_defense=lambda p: np.round(p, 1))
    for name, cls in ATTACKS.items():
        if cls.needs_logits:
            with pytest.raises(AttackInputError, match=rf"^{name}: reads the target's logits"):
                make(name).fit(hidden)


def test_set_params_changes_what_the_next_fit_learns_and_info_is_replaced(views):
    from mia_repro.attacks import RMIAOffline

    rmia = RMIAOffline(a_grid=(0.0, 1.0), gamma_grid=(1.0,)).fit(views[0])
    assert "simulated_auc" in rmia.info_ and rmia.a_ in (0.0, 1.0)
    rmia.set_params(tune=False, a=0.5, gamma=2.0).fit(views[0])
    assert (rmia.a_, rmia.gamma_) == (0.5, 2.0) and "simulated_auc" not in rmia.info_  # not merged across fits
    with pytest.raises(AttackInputError, match=r"^rmia_offline: The 'a' parameter of RMIAOffline must be a number in \[0, 1\]. Got 1.5"):
        RMIAOffline(a=1.5).fit(views[0])


def test_the_shokri_svms_are_refit_by_fit_and_reused_only_by_from_fitted(views):
    from mia_repro.attacks import ShokriSVM

    a = ShokriSVM(FAST_SVM, seed=2).fit(views[0])
    svms_first = a.svms_
    a.fit(views[1])
    assert a.svms_ is not svms_first
    fresh = ShokriSVM(FAST_SVM, seed=2).fit(views[1])
    np.testing.assert_array_equal(a.score(views[1]), fresh.score(views[1]))
    reused = ShokriSVM.from_fitted(fresh.svms_, cfg=FAST_SVM, seed=2)
    assert reused.get_params() == fresh.get_params()
    np.testing.assert_array_equal(reused.predict(views[1]), fresh.predict(views[1]))
    with pytest.raises(AttackInputError, match="svms: the per-class SVMs"):
        ShokriSVM.from_fitted({"classes": []})


def test_a_users_attack_runs_through_run_attacks_beside_configured_instances(views):
    from mia_repro.attacks import RMIAOffline

    so, labels = fake_stage1(n=60, n_shadows=3, pool=600, population=120, seed=0)
    res = run_attacks(views[0], so.target.member, [MedianGap(quantile=0.4), RMIAOffline(a_grid=(0.0, 0.5)),
                                                   "loss_threshold"], bootstrap=0)
    assert list(res.results) == ["median_gap", "rmia_offline", "loss_threshold"]
    mine = res["median_gap"]
    assert mine.params == {"quantile": 0.4} and mine.label == "median margin (own)"
    np.testing.assert_array_equal(mine.scores["pred"], mine.scores["score"] >= mine.threshold)
    assert res["rmia_offline"].params["a_grid"] == [0.0, 0.5]
    assert res["rmia_offline"].info["a"] in (0.0, 0.5)
    with pytest.raises(AttackInputError, match="given twice"):
        run_attacks(views[0], so.target.member, [MedianGap(), MedianGap()], bootstrap=0)
    with pytest.raises(AttackInputError, match="names or MembershipAttack instances, got int"):
        run_attacks(views[0], so.target.member, [3], bootstrap=0)


def test_a_subclass_that_sets_no_threshold_or_a_bad_one_is_told_at_fit(views):
    class NoThreshold(MembershipAttack):
        name = "no_threshold"

        def fit(self, view):
            return self

        def decision_function(self, view):
            return np.zeros(len(view))

    with pytest.raises(TypeError, match="no_threshold.fit set no threshold_"):
        NoThreshold().fit(views[0])

    class WrongLength(NoThreshold):
        name = "wrong_length"

        def fit(self, view):
            self.threshold_ = np.zeros(3)
            return self

    with pytest.raises(TypeError, match=r"threshold_ must be one finite number or one per class \(10\)"):
        WrongLength().fit(views[0])
    from mia_repro.attacks import RMIAOffline

    rmia = RMIAOffline(a_grid=(0.0,), gamma_grid=(1.0,)).fit(views[0])
    with pytest.raises(AttackInputError, match=r"The 'gamma' parameter of RMIAOffline must be a number in \[1, inf\)"):
        rmia.set_params(tune=False, gamma=0.5).fit(views[0])
    assert not learned(rmia)  # the failed refit left nothing of the earlier fit behind
    with pytest.raises(NotFittedError):
        rmia.score(views[0])

    class ShortScore(NoThreshold):
        name = "short_score"

        def fit(self, view):
            self.threshold_ = 0.0

        def decision_function(self, view):
            return np.zeros(3)

    attack = ShortScore()
    assert attack.fit(views[0]) is attack  # fit returns self even where the subclass forgot to
    with pytest.raises(TypeError, match="short_score.decision_function must return 120 finite numbers"):
        attack.score(views[0])


@pytest.mark.parametrize("name", NAMES)
def test_a_fitted_attack_refuses_a_view_with_another_number_of_classes_and_pickles(name, views):
    import pickle

    attack = make(name).fit(views[0])
    assert attack.n_classes_ == 10 and "_fit_depth" not in vars(attack)
    if name in ONLINE_ATTACKS:
        three = fake_pool(m=4, n=60, p=30, classes=3).view(0)
    else:
        so3, labels3 = fake_stage1(n=30, n_shadows=3, pool=300, population=60, classes=3)
        three = AttackerView.from_stage1(so3, labels3)
    with pytest.raises(AttackInputError, match=rf"^{name}: fit on outputs of 10 classes, this view has 3$"):
        attack.score(three)
    back = pickle.loads(pickle.dumps(attack))  # a fitted attack travels to a worker process
    np.testing.assert_array_equal(back.predict(views[0]), attack.predict(views[0]))


def test_take_refuses_a_mask_of_another_length(views):
    with pytest.raises(AttackInputError, match="index: positions among the view's 120 target records, or a mask"):
        views[0].take(np.ones(119, bool))
    with pytest.raises(AttackInputError, match="index: positions among"):
        views[0].take([[0, 1]])
