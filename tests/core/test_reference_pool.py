"""The reference pool's view and the pool evaluation's counts, on cases known by hand."""
import numpy as np
import pytest

from fakes import fake_pool
from mia_repro.attacks import LiRAOffline, LossThreshold, new_attack
from mia_repro.evaluation.pool import leave_one_out, power_curve, ppv, precision_at_priors, reproducibility, summarize
from mia_repro.views.pool import PoolInputError, ReferencePool


def test_the_view_hides_the_targets_mask_and_gives_the_references_masks():
    pool = fake_pool(m=5, n=40, p=20)
    v = pool.view(2)
    assert v.ref_logits.shape == (4, 40, 10)
    np.testing.assert_array_equal(v.ref_in, pool.member[[0, 1, 3, 4]])
    assert not any(np.array_equal(m, pool.member[2]) for m in [s.member for s in v.shadows])
    assert v.simulation.models == (0, 1, 3, 4) and v.target_name == "pool_002"
    np.testing.assert_array_equal(v.target_pop_logits, pool.pop_logits[2])
    assert v.simulation.z_member.shape == (4, 20) and not v.simulation.z_member.any()
    sub = pool.view(2, references=[4], simulation=[0, 1, 3, 4], n_sim_references=1, sim_targets=2, seed=1)
    assert sub.ref_logits.shape == (1, 40, 10) and len(sub.simulation.targets) == 2
    assert all(len(sub.simulation.others(j)) == 1 for j in range(4))


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=5), r"target: a model number in 0..4"),
    (dict(target=0, references=[0, 1]), r"references: the target \(model 0\) cannot be its own reference"),
    (dict(target=0, references=[1, 1]), r"references: a non-empty list of distinct models"),
    (dict(target=0, references=[7]), r"references: model numbers must lie in 0..4"),
    (dict(target=0, references=[1]), r"simulation: the attacker's simulation needs at least 2 models"),
])
def test_a_bad_choice_of_models_is_one_named_error(kwargs, match):
    with pytest.raises(PoolInputError, match=match):
        fake_pool(m=5, n=40, p=20).view(**kwargs)


def test_a_pool_of_one_model_or_mismatched_arrays_is_refused():
    pool = fake_pool(m=3, n=20, p=10)
    with pytest.raises(PoolInputError, match="at least 2 models"):
        ReferencePool(pool.logits[:1], pool.member[:1], pool.true_class, pool.pop_logits[:1], pool.pop_true_class)
    with pytest.raises(PoolInputError, match=r"member: expected shape \(3, 20\)"):
        ReferencePool(pool.logits, pool.member[:, :5], pool.true_class, pool.pop_logits, pool.pop_true_class)
    bad = pool.logits.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(PoolInputError, match="non-finite"):
        ReferencePool(bad, pool.member, pool.true_class, pool.pop_logits, pool.pop_true_class)


def test_reproducibility_counts_by_hand():
    # 3 targets x 4 records
    member = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0]], bool)
    flags = np.array([[1, 0, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]], bool)
    r = reproducibility(flags, member)
    np.testing.assert_allclose(r["in_rate"], [1.0, 0.5, 0.5, np.nan])
    np.testing.assert_allclose(r["out_rate"], [np.nan, 0 / 1, 0 / 1, 1 / 3])
    np.testing.assert_array_equal(r["n_in"], [3, 2, 2, 0])
    # flagged sets {0,3}, {0,2}, {0,1}: every pair shares record 0 of a union of 3
    assert r["jaccard_all"] == pytest.approx(1 / 3)
    # over the records IN for both: (0,1) {0}: {0} vs {0} = 1; (0,2) {0,1}: {0} vs {0,1} = 1/2;
    # (1,2) {0,2}: {0,2} vs {0} = 1/2
    assert r["jaccard_members"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    # eligible (IN for >= 2 targets): records 0, 1, 2; flagged by >= 90% of them: record 0 only
    assert r["n_eligible"] == 3 and r["share_reliable"] == pytest.approx(1 / 3)


def test_precision_at_priors_by_hand():
    assert ppv(0.5, 0.2, 0.01) == pytest.approx(0.1 / (0.1 + 0.005))
    assert ppv(0.01, 0.2, 0.01) == pytest.approx(0.002 / (0.002 + 0.0099))
    member = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]], bool)
    flags = np.array([[1, 1, 0, 0, 1, 0, 0, 0, 0, 0]], bool)  # TPR 2/4, FPR 1/6
    out = precision_at_priors(flags, member, oracle_tpr=[0.25], alpha=0.1, priors=(0.5, 0.01))
    assert (out["tp"], out["fp"], out["members"], out["nonmembers"]) == (2, 1, 4, 6)
    assert out["priors"][0.5]["ppv"] == pytest.approx(0.25 / (0.25 + 0.5 / 6))
    assert out["priors"][0.01]["oracle_ppv"] == pytest.approx(0.0025 / (0.0025 + 0.099))
    lo, hi = out["priors"][0.5]["ci95"]
    assert lo < out["priors"][0.5]["ppv"] < hi
    with pytest.raises(PoolInputError, match=r"priors: membership priors in \(0, 1\)"):
        precision_at_priors(flags, member, [0.25], 0.1, (1.0,))


def test_on_labels_with_no_signal_the_pool_attacks_are_at_chance():
    pool = fake_pool(m=8, n=400, p=100, leak=0.0, seed=3)
    res = leave_one_out(pool, {"lira_offline": LiRAOffline(), "loss_threshold": LossThreshold()}, [0, 1], 4,
                        (0.01,), bootstrap=0, log=lambda *_: None)
    for name, rows in res.items():
        for r in rows:
            assert abs(r["result"].metrics.auc - 0.5) < 0.08, name
            flags = r["flags"][0.01][1]
            assert flags.mean() < 0.05  # about 1% of every record, member or not


def test_leave_one_out_and_the_curve_give_one_row_per_target_and_count():
    pool = fake_pool(m=6, n=200, p=60, leak=3.0)
    curve = power_curve(pool, {"lira_online": new_attack("lira_online")}, [0, 1], [1, 2, 5], 3, log=lambda *_: None)
    assert set(curve["lira_online"]) == {1, 2, 5}
    assert all(len(v["auc"]) == 2 for v in curve["lira_online"].values())
    assert np.mean(curve["lira_online"][5]["auc"]) > 0.8
    s = summarize([1.0, 2.0, 4.0])
    assert (s["mean"], s["min"], s["max"]) == (7 / 3, 1.0, 4.0) and s["std"] == pytest.approx(np.std([1, 2, 4], ddof=1))
