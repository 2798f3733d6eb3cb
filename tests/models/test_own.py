"""Attacking one's own model (mia_repro.views.arrays): views from arrays and from Keras models, loud input errors."""
import numpy as np
import pytest

from fakes import fake_stage1
from mia_repro.attacks import ATTACKS, AttackerView
from mia_repro.attacks.config import AttackConfig
from mia_repro.views.arrays import OwnInputError, as_logits, view_from_arrays
from mia_repro.evaluation.evaluate import run_attacks

FAST = AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.1, 1.0), cv_folds=2, cv_samples=200, fit_samples=300, n_jobs=1)
NAMES = [a for a in ATTACKS if a != "label_only_augment"]


def _arrays(so, labels):
    """The keyword arguments of view_from_arrays that describe Stage I's ``so`` exactly."""
    t, shadows = so.target, so.shadows
    pop = t.pop_indices
    return dict(target_labels=t.true_class, target_logits=t.logits,
                shadow_labels=[s.true_class for s in shadows], shadow_member=[s.member for s in shadows],
                shadow_logits=[s.logits for s in shadows],
                reference_logits=np.stack([s.ref_logits for s in shadows]),
                population_logits=np.stack([s.pop_logits for s in shadows]),
                population_member=np.stack([np.isin(pop, s.indices[s.member]) for s in shadows]),
                population_labels=labels[pop], target_population_logits=t.pop_logits)


@pytest.fixture(scope="module")
def stage1():
    return fake_stage1(n=80, n_shadows=4, pool=900, population=200)


def test_a_view_from_arrays_gives_the_same_scores_as_stage1s_view(stage1):
    so, labels = stage1
    mine = run_attacks(view_from_arrays(**_arrays(so, labels)), so.target.member, NAMES, cfg=FAST, bootstrap=0)
    ref = AttackerView.from_stage1(so, labels)
    for name in NAMES:
        cls = ATTACKS[name]
        attack = cls(cfg=FAST, seed=0) if name.startswith("shokri") else cls()
        attack.fit(ref)
        if name.startswith("shokri"):  # its features are softmax vectors, recomputed here from the logits in float32
            np.testing.assert_allclose(mine.scores[name]["score"], attack.score(ref), atol=1e-3, err_msg=name)
            assert (mine.scores[name]["pred"] == attack.predict(ref)).mean() > 0.98, name
            continue
        np.testing.assert_allclose(mine.scores[name]["score"], attack.score(ref), rtol=1e-6, atol=1e-9, err_msg=name)
        np.testing.assert_array_equal(mine.scores[name]["pred"], attack.predict(ref), err_msg=name)
    table = mine.summary()
    assert list(table.index) == NAMES and set(table.columns) >= {"AUC", "TPR@1%FPR", "TPR@0.1%FPR", "95% CI @0.1%"}
    assert table.loc["lira_offline", "AUC"] == pytest.approx(mine.blocks["lira_offline"]["auc"])
    assert "AttackResults(" in repr(mine) and len(repr(mine)) < 600


def test_without_a_population_the_reference_attacks_are_skipped_or_named(stage1):
    so, labels = stage1
    kw = {k: v for k, v in _arrays(so, labels).items() if not k.startswith(("reference", "population", "target_pop"))}
    view = view_from_arrays(**kw)
    assert "no references" in repr(view)
    with pytest.warns(UserWarning, match=r"not run on this view: calibrated_loss \(needs population="):
        res = run_attacks(view, so.target.member, cfg=FAST, bootstrap=0)
    assert "lira_offline" in res.skipped and "shokri_svm" in res.blocks and "label_only_augment" in res.skipped
    with pytest.raises(OwnInputError, match="lira_offline: needs population="):
        run_attacks(view, so.target.member, ["lira_offline"])
    with pytest.raises(OwnInputError, match="reference attacks need all of"):
        view_from_arrays(**kw, reference_logits=_arrays(so, labels)["reference_logits"])


@pytest.mark.parametrize("change, message", [
    (lambda kw: {**kw, "target_logits": np.exp(kw["target_logits"]) / np.exp(kw["target_logits"]).sum(1, keepdims=True)},
     "target logits: these look like probabilities"),
    (lambda kw: {**kw, "target_logits": np.round(np.exp(kw["target_logits"]) / np.exp(kw["target_logits"]).sum(1, keepdims=True), 2)},
     "target logits: these look like rounded probabilities"),
    (lambda kw: {**kw, "target_logits": np.round(np.exp(kw["target_logits"]) / np.exp(kw["target_logits"]).sum(1, keepdims=True), 1)},
     "target logits: these look like rounded probabilities .* give the model's unrounded outputs"),
    (lambda kw: {**{k: v for k, v in kw.items() if k != "target_logits"}, "target_probs": kw["target_logits"]},
     "target probs: not probabilities"),
    (lambda kw: {**kw, "target_logits": kw["target_logits"][:-1]}, "target_labels: expected 159 labels"),
    (lambda kw: {**kw, "target_labels": kw["target_labels"] + 10}, "target_labels: labels must lie in 0..9"),
    (lambda kw: {**kw, "shadow_member": [np.ones_like(m) for m in kw["shadow_member"]]},
     r"shadow_member\[0\]: needs members and non-members"),
    (lambda kw: {**kw, "reference_logits": kw["reference_logits"][:, :10]}, r"reference: expected shape \(4, 160, 10\)"),
    (lambda kw: {**kw, "population_member": np.zeros_like(kw["population_member"])}, "population_member: the simulation"),
    (lambda kw: {**kw, "target_logits": np.where(np.arange(1600).reshape(160, 10) == 3, np.nan, kw["target_logits"])},
     "target logits: 1 non-finite"),
    (lambda kw: {**kw, "target_logits": kw["target_logits"].astype(np.float64) / np.abs(kw["target_logits"]).max() * 1e300},
     r"target logits: magnitudes up to 1e\+300, above 1e\+08"),
])
def test_a_new_users_mistakes_are_named(stage1, change, message):
    so, labels = stage1
    with pytest.raises(OwnInputError, match=message):
        view_from_arrays(**change(_arrays(so, labels)))


def test_run_attacks_checks_membership_and_names(stage1):
    so, labels = stage1
    view = view_from_arrays(**_arrays(so, labels))
    with pytest.raises(OwnInputError, match="member: 159 flags"):
        run_attacks(view, so.target.member[:-1])
    with pytest.raises(OwnInputError, match="attacks: unknown 'lira'; choose from"):
        run_attacks(view, so.target.member, ["lira"])
    with pytest.raises(OwnInputError, match="view: expected an AttackerView"):
        run_attacks({"target": 1}, so.target.member)


@pytest.mark.parametrize("kwargs, match", [
    ({"attacks": []}, "attacks: an empty list runs nothing"),
    ({"attacks": ["loss_threshold"], "seed": -1}, "seed: a non-negative integer, got -1"),
    ({"attacks": ["loss_threshold"], "bootstrap": -5}, r"bootstrap: a non-negative integer, got -5 \(0: no bootstrap"),
    ({"attacks": ["loss_threshold"], "bootstrap": "x"}, "bootstrap: a non-negative integer, got 'x'"),
    ({"attacks": ["loss_threshold"], "seed": True}, "seed: a non-negative integer, got True"),
])
def test_run_attacks_refuses_what_would_end_in_a_raw_error(stage1, kwargs, match):
    so, labels = stage1
    view = view_from_arrays(**_arrays(so, labels))
    with pytest.raises(OwnInputError, match=match):
        run_attacks(view, so.target.member, **kwargs)


def test_shadows_of_one_class_are_refused_by_the_svm_and_served_by_the_others():
    """Shadows whose records are all of class 0: the per-class SVM has nothing to learn for classes 1 and 2
    (one named error, not numpy's), while a threshold attack still runs."""
    rng = np.random.default_rng(0)
    member = np.arange(100) < 50
    kw = dict(target_labels=rng.integers(0, 3, 100), shadow_labels=[np.zeros(100, int)] * 2,
              shadow_member=[member] * 2, target_logits=rng.normal(size=(100, 3)) * 3,
              shadow_logits=[rng.normal(size=(100, 3)) * 3 for _ in range(2)])
    view = view_from_arrays(**kw)
    with pytest.raises(OwnInputError, match=r"shokri_svm: the shadows hold no record of class\(es\) \[1, 2\] of 0..2"):
        run_attacks(view, member, ["shokri_svm"], cfg=FAST, bootstrap=0)
    assert list(run_attacks(view, member, ["loss_threshold_global"], bootstrap=0).blocks) == ["loss_threshold_global"]


def test_probabilities_become_log_probabilities():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    z = as_logits("t", probs=p)
    np.testing.assert_allclose(np.exp(z) / np.exp(z).sum(1, keepdims=True), p)
    with pytest.raises(OwnInputError, match="give exactly one"):
        as_logits("t", logits=p, probs=p)


def test_a_view_from_keras_models_refuses_a_shadow_that_saw_the_target_and_attacks_the_rest():
    from mia_repro.base.quiet import keras
    from mia_repro.views.keras import view_from_models

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def model(seed):
        keras.utils.set_random_seed(seed)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        return m

    member = np.arange(100) < 50
    recs = [np.arange(100 * i, 100 * (i + 1)) for i in range(4)]
    shadows = [(model(i), r, member) for i, r in enumerate(recs[1:])]
    view = view_from_models(model(9), recs[0], shadows, x, y, population=np.concatenate(recs[1:]))
    assert view.ref_logits.shape == (3, 100, 2) and view.simulation.member.sum() == 150
    with pytest.raises(OwnInputError, match=r"shadows\[0\]: trained on 50 of the target's records"):
        view_from_models(model(9), recs[0], [(model(0), recs[0], member)], x, y)
    softmax = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(OwnInputError, match="look like probabilities \\(a softmax output layer\\); pass outputs=.probs."):
        view_from_models(softmax, recs[0], shadows, x, y)
    assert view_from_models(softmax, recs[0], [(softmax, recs[1], member)], x, y, outputs="probs").shadows


def test_more_new_user_mistakes_are_named(stage1):
    from mia_repro.experiment.profiles import get_config
    from mia_repro.views.keras import view_from_models

    so, labels = stage1
    view = view_from_arrays(**_arrays(so, labels))
    assert list(run_attacks(view, so.target.member, "loss_threshold", bootstrap=0).blocks) == ["loss_threshold"]
    with pytest.raises(OwnInputError, match="cfg: an AttackConfig"):
        run_attacks(view, so.target.member, ["shokri_svm"], cfg=get_config("smoke"))
    with pytest.raises(OwnInputError, match="member: expected booleans or 0/1"):
        run_attacks(view, np.flatnonzero(so.target.member).tolist() + [0] * 80)
    x, y = np.zeros((50, 4), np.float32), np.zeros(50, np.int64)
    with pytest.raises(OwnInputError, match="target_records: expected a non-empty 1-D array of integer"):
        view_from_models(None, np.ones(50, bool), [], x, y)
    with pytest.raises(OwnInputError, match="x, y: one label per record"):
        view_from_models(None, np.arange(10), [], x, y[:40])
    with pytest.raises(OwnInputError, match="population: 5 of the target's records"):
        view_from_models(None, np.arange(10), [], x, y, population=np.arange(5, 30))


def test_outputs_must_name_logits_or_probs():
    from mia_repro.views.keras import view_from_models

    with pytest.raises(OwnInputError, match="outputs: 'logits' or 'probs', got 'softmax'"):
        view_from_models(None, np.arange(10), [], np.zeros((50, 4), np.float32), np.zeros(50, np.int64),
                         outputs="softmax")


# ---------------------------------------------------------------- a pool of one's own reference models

def _own_pool(m=8, n=300, p=80, leak=2.5, seed=0):
    from fakes import fake_pool

    pool = fake_pool(m=m, n=n, p=p, leak=leak, seed=seed)
    refs = np.arange(1, m)
    kwargs = dict(target_logits=pool.logits[0].astype(np.float64), reference_logits=pool.logits[refs],
                  population_labels=pool.pop_true_class, target_population_logits=pool.pop_logits[0].astype(np.float64),
                  population_logits=pool.pop_logits[refs])
    return pool, refs, kwargs


def test_view_from_pool_runs_the_online_attacks_and_equals_the_pools_own_view():
    from mia_repro.evaluation.pool import members_at_fdr, pvalues
    from mia_repro.views.pool import view_from_pool

    pool, refs, kw = _own_pool()
    view = view_from_pool(pool.true_class, pool.member[refs], sim_targets=4, **kw)
    results = run_attacks(view, pool.member[0], ["lira_online_global", "rmia_online_tuned", "lira_offline_global"],
                          bootstrap=0)
    assert results["lira_online_global"].metrics.auc > 0.8
    same = run_attacks(pool.view(0, sim_targets=4), pool.member[0], ["lira_online_global"], bootstrap=0)
    np.testing.assert_allclose(results["lira_online_global"].scores["score"], same["lira_online_global"].scores["score"])
    ids = np.arange(1000, 1000 + len(pool))
    table = results.per_record(ids)
    assert list(table.index[:3]) == [1000, 1001, 1002] and table.index.name == "record id"
    assert table.loc[1000 + 5, "lira_online_global score"] == results["lira_online_global"].scores["score"][5]
    assert table["member"].sum() == pool.member[0].sum()
    called = members_at_fdr(view, 0.1, record_ids=ids)
    assert len(called) > 0 and set(called) <= set(ids)
    truly = np.isin(called, ids[pool.member[0]])
    assert truly.mean() >= 0.8
    assert pvalues(view).shape == (len(pool),)


@pytest.mark.parametrize("change, match", [
    (dict(reference_member=np.zeros((7, 300), bool)), "trained on some target records"),
    (dict(reference_member=np.ones((7, 10), bool)), r"shape \(7, 300\)"),
    (dict(population_labels=None), "population_labels"),
    (dict(sim_targets=1), "sim_targets: an integer >= 2"),
    (dict(population_logits=None), "one \\(P, C\\) array per reference"),
])
def test_view_from_pool_bad_input_is_one_named_error(change, match):
    from mia_repro.views.pool import view_from_pool

    pool, refs, kw = _own_pool()
    args = {"reference_member": pool.member[refs], **kw, **change}
    with pytest.raises(OwnInputError, match=match):
        view_from_pool(pool.true_class, **args)


def test_view_from_pool_refuses_probabilities_given_as_logits_and_one_reference():
    from mia_repro.views.pool import view_from_pool

    pool, refs, kw = _own_pool()
    probs = np.exp(kw["target_logits"]) / np.exp(kw["target_logits"]).sum(axis=1, keepdims=True)
    with pytest.raises(OwnInputError, match="look like probabilities"):
        view_from_pool(pool.true_class, pool.member[refs], **{**kw, "target_logits": probs})
    with pytest.raises(OwnInputError, match="at least 2 reference models"):
        view_from_pool(pool.true_class, pool.member[refs[:1]], **{**kw, "reference_logits": kw["reference_logits"][:1]})


def test_per_record_and_members_at_fdr_check_their_ids():
    from mia_repro.evaluation.pool import members_at_fdr
    from mia_repro.views.pool import view_from_pool

    pool, refs, kw = _own_pool()
    view = view_from_pool(pool.true_class, pool.member[refs], sim_targets=4, **kw)
    results = run_attacks(view, pool.member[0], ["lira_online_global"], bootstrap=0)
    with pytest.raises(OwnInputError, match="record_ids: 300 distinct ids"):
        results.per_record(np.zeros(300, int))
    with pytest.raises(OwnInputError, match="record_ids: one id per target record"):
        members_at_fdr(view, 0.05, record_ids=np.arange(5))
    with pytest.raises(OwnInputError, match="false-discovery rate"):
        members_at_fdr(view, 1.5)


@pytest.mark.parametrize("non_members, fp_allowed", [(400, 0), (999, 0), (1000, 1), (2500, 2)])
def test_summary_says_when_tpr_at_low_fpr_is_not_measurable(non_members, fp_allowed):
    """Below 1,000 non-members 0.1% FPR allows no false positive: the summary shows the allowed count, NaN for
    the TPR and "not measurable" for its interval, instead of a TPR at 0 FPR under the 0.1% heading."""
    rng = np.random.default_rng(1)
    n = 200 + non_members
    member = np.arange(n) < 200
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + (1.0 + 2.0 * member[:, None]) * np.eye(3)[y]
    view = view_from_arrays(y, [rng.integers(0, 3, 300)], [np.arange(300) < 150],
                            target_logits=logits, shadow_logits=[rng.normal(size=(300, 3))])
    row = run_attacks(view, member, ["loss_threshold_global"], bootstrap=20).summary().loc["loss_threshold_global"]
    assert row["FP allowed @0.1%"] == fp_allowed and row["FP allowed @1%"] == non_members // 100
    if fp_allowed:
        assert row["TPR@0.1%FPR"] >= 0 and row["95% CI @0.1%"].startswith("[")
    else:
        assert np.isnan(row["TPR@0.1%FPR"])
        assert row["95% CI @0.1%"] == f"not measurable (0.1% of {non_members} non-members is no false positive)"
    assert row["TPR@1%FPR"] >= 0 and row["95% CI @1%"].startswith("[")
