import numpy as np
import pytest

from fakes import fake_outputs, fake_size
from mia_repro.attacks import (ThresholdAttack, attack_dataset, check_disjoint, fit_attack, fit_class_attack,
                              stratified_subsample)
from mia_repro.config import AttackConfig

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
    with pytest.raises(ValueError):
        check_disjoint(ThresholdAttack.fit(attack_dataset([so.target])), test)


def test_per_class_svm_beats_chance_on_leaky_outputs():
    so = fake_size(300, leak=3.0)
    attack = fit_attack(attack_dataset(so.shadows), CFG, seed=0)
    test = attack_dataset([so.target])
    assert len(attack.classes) == 10
    acc = (attack.predict(test) == test.member).mean()
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
    thr = ThresholdAttack.fit(attack_dataset([shadow]))
    test = attack_dataset([target])
    assert 0 < thr.threshold < 1
    assert (thr.predict(test) == test.member).mean() > 0.7


def test_move_into_attacks_package_changed_no_number():
    """Golden values printed by the pre-move code (mia_repro/attack.py at 402cae1) on the same synthetic outputs."""
    from fakes import fake_size
    from mia_repro.config import AttackConfig

    cfg = AttackConfig(C_grid=(0.1, 1.0, 10.0), gamma_grid=(0.1, 1.0, 10.0), cv_folds=3, cv_samples=200, fit_samples=300,
                       n_jobs=1)
    so = fake_size(200, n_shadows=3, seed=3, leak=1.5)
    train, test = attack_dataset(so.shadows), attack_dataset([so.target])
    svm = fit_attack(train, cfg, 7)
    assert float(svm.score(test).sum()) == pytest.approx(-12.815356215173011, rel=1e-9)
    assert int(svm.predict(test).sum()) == 172
    assert [(c.C, c.gamma) for c in svm.classes][:3] == [(1.0, 1.0), (10.0, 0.1), (1.0, 10.0)]
    thr = ThresholdAttack.fit(train)
    assert thr.threshold == pytest.approx(0.3271344006061554, rel=1e-12) and int(thr.predict(test).sum()) == 168
