"""The reference attacks at few references, against brute-force per-record loops: records with no OUT (or no
IN) reference, the variance rule and its warning, RMIA's signal temperature, and the FDR calls."""
import warnings

import numpy as np
import pytest
from scipy.stats import norm

from fakes import fake_pool
from mia_repro.attacks import (AttackInputError, CalibratedLoss, LiRAOffline, LiRAOnline,
                               RMIAOffline, RMIAOnline, new_attack)
from mia_repro.attacks.lira import AUTO_PER_RECORD_MIN
from mia_repro.attacks.reference import ReferenceProblem, side_mean, target_problem
from mia_repro.attacks.rmia import rmia_score, rmia_scores
from mia_repro.evaluation.pool import fdr_check, fdr_members, out_pvalues, precision_at_priors, two_way_bootstrap
from mia_repro.views.pool import PoolInputError


def lopsided_problem(seed=0, n=12, r=3, c=3, p=7):
    """A problem whose references leave some records with no OUT and some with no IN entry."""
    rng = np.random.default_rng(seed)
    out = rng.random((r, n)) < 0.5
    out[:, 0] = False  # record 0: every reference IN
    out[:, 1] = True   # record 1: every reference OUT
    assert (~out.any(axis=0)).any() and (out.all(axis=0)).any()
    return ReferenceProblem(rng.normal(0, 2, (n, c)), rng.integers(0, c, n), rng.normal(0, 2, (r, n, c)), out,
                            rng.normal(0, 2, (p, c)), rng.integers(0, c, p), rng.normal(0, 2, (r, p, c)),
                            np.ones((r, p), bool))


def brute(p: ReferenceProblem):
    """Every per-record quantity by explicit loops over records and references (no masks, no broadcasting)."""
    def phi(z, y):
        others = np.delete(z, y)
        return z[y] - np.log(np.sum(np.exp(others)))

    def prob(z, y):
        return np.exp(z[y]) / np.exp(z).sum()

    r, n = p.ref_out.shape
    ref_phi = [[phi(p.ref_logits[k, i], p.true_class[i]) for i in range(n)] for k in range(r)]
    ref_p = [[prob(p.ref_logits[k, i], p.true_class[i]) for i in range(n)] for k in range(r)]
    out_all = [ref_phi[k][i] for k in range(r) for i in range(n) if p.ref_out[k, i]]
    in_all = [ref_phi[k][i] for k in range(r) for i in range(n) if not p.ref_out[k, i]]
    out_p_all = [ref_p[k][i] for k in range(r) for i in range(n) if p.ref_out[k, i]]
    in_p_all = [ref_p[k][i] for k in range(r) for i in range(n) if not p.ref_out[k, i]]
    rec = []
    for i in range(n):
        o = [ref_phi[k][i] for k in range(r) if p.ref_out[k, i]]
        a = [ref_phi[k][i] for k in range(r) if not p.ref_out[k, i]]
        op = [ref_p[k][i] for k in range(r) if p.ref_out[k, i]]
        ip = [ref_p[k][i] for k in range(r) if not p.ref_out[k, i]]
        rec.append({"phi": phi(p.logits[i], p.true_class[i]), "p": prob(p.logits[i], p.true_class[i]),
                    "out": o, "in": a, "out_p": op, "in_p": ip})
    return rec, out_all, in_all, out_p_all, in_p_all


def pooled(values_by_record, means):
    num = sum((v - m) ** 2 for vs, m in zip(values_by_record, means) for v in vs)
    dof = sum(len(vs) for vs in values_by_record) - sum(1 for vs in values_by_record if vs)
    return np.sqrt(num / dof) if dof >= 1 else 1.0


def test_offline_lira_on_records_without_an_out_reference_uses_the_out_mean_of_every_record_not_zero():
    p = lopsided_problem()
    rec, out_all, _, _, _ = brute(p)
    mu = [np.mean(x["out"]) if x["out"] else np.mean(out_all) for x in rec]
    g = pooled([x["out"] for x in rec], mu)
    want_global = [(x["phi"] - m) / g for x, m in zip(rec, mu)]
    want_per = [(x["phi"] - m) / (np.std(x["out"], ddof=1) if len(x["out"]) >= 2 else g) for x, m in zip(rec, mu)]
    np.testing.assert_allclose(LiRAOffline(variance="global").problem_score(p), want_global, rtol=1e-9)
    np.testing.assert_allclose(LiRAOffline().problem_score(p), want_per, rtol=1e-9)
    assert mu[0] == pytest.approx(np.mean(out_all)) and mu[0] != 0


def test_online_lira_on_one_sided_records_shifts_the_other_mean_by_the_gap_by_brute_force():
    p = lopsided_problem(seed=1)
    rec, out_all, in_all, _, _ = brute(p)
    gap = np.mean(in_all) - np.mean(out_all)
    mu_in = [np.mean(x["in"]) if x["in"] else np.mean(x["out"]) + gap for x in rec]
    mu_out = [np.mean(x["out"]) if x["out"] else np.mean(x["in"]) + -gap for x in rec]
    g_in, g_out = pooled([x["in"] for x in rec], mu_in), pooled([x["out"] for x in rec], mu_out)
    want = [norm.logpdf(x["phi"], a, g_in) - norm.logpdf(x["phi"], b, g_out) for x, a, b in zip(rec, mu_in, mu_out)]
    np.testing.assert_allclose(LiRAOnline(variance="global").problem_score(p), want, rtol=1e-9)


def test_rmia_on_one_sided_records_takes_the_sides_average_by_brute_force():
    p = lopsided_problem(seed=2)
    rec, _, _, out_p_all, in_p_all = brute(p)
    pz = [np.exp(-x) for x in p.pop_ref_loss.mean(axis=0)]  # not used: the population by its own loop below
    del pz
    pop_x = [np.exp(p.pop_logits[j, p.pop_true_class[j]]) / np.exp(p.pop_logits[j]).sum() for j in range(len(p.pop_true_class))]
    pop_ref = [np.mean([np.exp(p.pop_ref_logits[k, j, p.pop_true_class[j]]) / np.exp(p.pop_ref_logits[k, j]).sum()
                        for k in range(len(p.pop_ref_logits))]) for j in range(len(pop_x))]
    a = 0.4
    for online in (False, True):
        if online:
            px = [0.5 * ((np.mean(x["in_p"]) if x["in_p"] else np.mean(in_p_all))
                         + (np.mean(x["out_p"]) if x["out_p"] else np.mean(out_p_all))) for x in rec]
            pzs = pop_ref
        else:
            px = [0.5 * ((1 + a) * (np.mean(x["out_p"]) if x["out_p"] else np.mean(out_p_all)) + 1 - a) for x in rec]
            pzs = [0.5 * ((1 + a) * v + 1 - a) for v in pop_ref]
        ratio_z = [q / v for q, v in zip(pop_x, pzs)]
        want = []
        for x, m in zip(rec, px):
            lr = x["p"] / m
            frac = np.mean([lr / rz >= 1.0 for rz in ratio_z])
            want.append(frac + (0.5 + np.arctan(np.log(lr)) / np.pi) / (len(ratio_z) + 1))
        np.testing.assert_allclose(rmia_score(p, None if online else a, 1.0), want, rtol=1e-9)


def test_calibrated_loss_on_a_record_without_an_out_reference_uses_the_mean_out_loss():
    p = lopsided_problem(seed=3)
    mean_out = p.ref_loss[p.ref_out].mean()
    got = CalibratedLoss().problem_score(p)
    assert got[0] == pytest.approx(-(p.loss[0] - mean_out), rel=1e-12)
    assert got[1] == pytest.approx(-(p.loss[1] - p.ref_loss[:, 1].mean()), rel=1e-12)


def test_side_mean_refuses_a_side_with_no_entry_at_all():
    with pytest.raises(AttackInputError, match="no reference entry"):
        side_mean(np.ones((2, 3)), np.zeros((2, 3), bool))
    mean, count = side_mean(np.array([[1.0, 5.0], [3.0, 7.0]]), np.array([[1, 0], [1, 0]], bool))
    assert list(mean) == [2.0, 2.0] and list(count) == [2, 0]


def test_with_few_references_the_top_ranks_are_not_filled_by_records_without_an_out_reference():
    """The committed-pool artefact: at one or two references, records with no OUT reference used to get a
    marginal of (1 - a) / 2 and fill the top ranks; now they rank like the others."""
    pool = fake_pool(m=6, n=400, p=100, leak=3.0, seed=4)
    view = pool.view(0, references=[1], simulation=[1, 2, 3, 4, 5], n_sim_references=1)
    attack = RMIAOffline().fit(view)
    score = attack.score(view)
    no_out = pool.member[1]  # the one reference trained on these: no OUT reference for them
    top = np.argsort(-score)[:20]
    assert no_out[top].mean() < 0.9
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(pool.member[0], score) > 0.75


@pytest.mark.parametrize("variance, count, per_record", [
    ("per_record", 3, True), ("global", 40, False), ("auto", AUTO_PER_RECORD_MIN - 1, False),
    ("auto", AUTO_PER_RECORD_MIN, True)])
def test_the_variance_rule_picks_per_record_or_global_by_the_count(variance, count, per_record):
    rng = np.random.default_rng(5)
    n, r = 6, count
    ref = rng.normal(0, 1, (r, n, 2))
    p = ReferenceProblem(rng.normal(0, 1, (n, 2)), np.zeros(n, int), ref, np.ones((r, n), bool), None, None, None, None)
    glob = LiRAOffline(variance="global").problem_score(p)
    per = LiRAOffline(variance="per_record").problem_score(p)
    got = LiRAOffline(variance=variance).problem_score(p)
    np.testing.assert_allclose(got, per if per_record else glob, rtol=1e-12)
    assert not np.allclose(per, glob)


def test_an_unknown_variance_rule_is_a_named_error():
    pool = fake_pool(m=5, n=100, p=40)
    with pytest.raises(AttackInputError, match=r"^lira_online: The 'variance' parameter of LiRAOnline must be a str among .*'per_record'.* Got 'pooled'"):
        LiRAOnline(variance="pooled").fit(pool.view(0))


def test_per_record_variances_from_few_references_warn_in_info_and_from_run_attacks_global_ones_do_not():
    pool = fake_pool(m=8, n=200, p=60, leak=2.0)
    view = pool.view(0)  # 7 references: about 3.5 per side
    per = LiRAOnline().fit(view)
    assert "fewer than 16" in per.info_["warning"] and per.info_["per_record_variance"] is True
    glob = LiRAOnline(variance="global").fit(view)
    assert "warning" not in glob.info_ and glob.regime_warning(view) is None
    from mia_repro.evaluation.evaluate import run_attacks

    with pytest.warns(UserWarning, match="lira_online: per-record variances from .* fewer than 16"):
        run_attacks(view, pool.member[0], ["lira_online", "lira_online_global"], bootstrap=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_attacks(view, pool.member[0], ["lira_online_global"], bootstrap=0)


def test_at_one_reference_lira_is_the_difference_from_the_reference():
    p = ReferenceProblem(np.array([[3.0, 0.0], [1.0, 0.0]]), np.zeros(2, int), np.array([[[1.0, 0.0], [2.0, 0.0]]]),
                         np.ones((1, 2), bool), None, None, None, None)
    np.testing.assert_allclose(LiRAOffline(variance="global").problem_score(p), p.phi - p.ref_phi[0], rtol=1e-12)


def test_rmia_at_a_temperature_is_its_equation_on_the_tempered_softmax():
    p = lopsided_problem(seed=6)
    t = 4.0
    q = ReferenceProblem(p.logits / t, p.true_class, p.ref_logits / t, p.ref_out, p.pop_logits / t, p.pop_true_class,
                         p.pop_ref_logits / t, p.pop_ref_out)
    for a in (None, 0.3):
        np.testing.assert_allclose(rmia_scores(p, a, (1.0, 2.0), t)[2.0], rmia_score(q, a, 2.0), rtol=1e-12)


def test_tuned_rmia_chooses_a_temperature_on_the_simulation_and_says_when_it_sits_on_the_edge():
    pool = fake_pool(m=6, n=200, p=80, leak=3.0)
    view = pool.view(0)
    tuned = new_attack("rmia_online_tuned").fit(view)
    aucs = tuned.info_["simulated_auc"]
    assert set(aucs) == {"T=1", "T=2", "T=4", "T=8", "T=16"}
    best = max(((float(k[2:]), g) for k, by_g in aucs.items() for g in by_g), key=lambda kg: aucs[f"T={kg[0]:g}"][kg[1]])
    assert tuned.temperature_ == best[0] == tuned.info_["temperature"]
    assert tuned.info_["temperature_on_grid_edge"] is (tuned.temperature_ == 16.0)
    plain = RMIAOnline().fit(view)
    assert plain.temperature_ == 1.0 and "temperature" not in plain.info_
    edge = RMIAOffline(temperature_grid=(0.5, 1.0), a_grid=(0.0,)).fit(view)
    assert edge.info_["temperature_on_grid_edge"] is (edge.temperature_ == 1.0)


@pytest.mark.parametrize("grid", [(), (0.0,), (-1.0,), (float("inf"),), (float("nan"),), "12", (True,)])
def test_a_bad_temperature_grid_is_a_named_error(grid):
    pool = fake_pool(m=5, n=60, p=30)
    with pytest.raises(AttackInputError, match=r"The 'temperature_grid' parameter of RMIAOffline must be a non-empty sequence of numbers in \(0, inf\)"):
        RMIAOffline(temperature_grid=grid).fit(pool.view(0))


def test_duplicated_targets_do_not_shrink_the_ppv_interval():
    """Targets that share their records are not independent trials: eight identical targets must give the
    interval of one (the bootstrap resamples the records), not one sqrt(8) times narrower."""
    rng = np.random.default_rng(7)
    member = rng.random(2000) < 0.5
    flags = np.where(member, rng.random(2000) < 0.3, rng.random(2000) < 0.02)
    one = precision_at_priors(flags[None], member[None], [0.3], 0.01, (0.1,), seed=1)
    eight = precision_at_priors(np.tile(flags, (8, 1)), np.tile(member, (8, 1)), [0.3], 0.01, (0.1,), seed=1)
    w1 = np.diff(one["priors"][0.1]["ci95"])[0]
    w8 = np.diff(eight["priors"][0.1]["ci95"])[0]
    assert one["priors"][0.1]["ppv"] == eight["priors"][0.1]["ppv"]
    assert w8 > 0.8 * w1
    assert "targets and records" in eight["interval"]


def test_the_two_way_bootstrap_counts_by_hand():
    flags = np.array([[1, 0, 1, 0]], bool)
    member = np.array([[1, 1, 0, 0]], bool)
    tpr, fpr = two_way_bootstrap(flags, member, seed=0, draws=500)
    assert set(np.round(tpr[~np.isnan(tpr)], 6)) <= {0.0, 0.5, 1.0, round(1 / 3, 6), round(2 / 3, 6), 0.25, 0.75}
    assert np.nanmean(tpr) == pytest.approx(0.5, abs=0.06) and np.nanmean(fpr) == pytest.approx(0.5, abs=0.06)


def test_fdr_members_is_benjamini_hochberg_by_hand():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # BH at q = 0.05: the largest k with p_(k) <= k q / m: k = 2 (0.008 <= 0.01; 0.039 > 0.015, ...)
    assert list(fdr_members(p, 0.05)) == [True, True] + [False] * 8
    assert fdr_members(p, 0.5).sum() == 10  # 0.216 <= 0.5
    for bad in (0.0, 1.0, -0.1, "0.05", True):
        with pytest.raises(PoolInputError, match="false-discovery rate"):
            fdr_members(p, bad)
    with pytest.raises(PoolInputError, match="p-values in"):
        fdr_members(np.array([0.5, np.nan]), 0.05)


def test_the_fdr_calls_hold_their_rate_on_a_pool_and_call_almost_nothing_on_labels_with_no_signal():
    pool = fake_pool(m=12, n=600, p=100, leak=2.5, seed=8)
    got = fdr_check(pool, [0, 1, 2], (0.05, 0.2), sim_targets=6)
    for level, q in (("q=0.05", 0.05), ("q=0.2", 0.2)):
        assert sum(got[level]["calls"]) > 50
        assert got[level]["fdr_pooled"] <= q
    null = fake_pool(m=12, n=600, p=100, leak=0.0, seed=9)
    got = fdr_check(null, [0, 1, 2], (0.05,), sim_targets=6)["q=0.05"]
    # every call is false on no-signal labels: BH keeps the chance of any call near q
    assert sum(got["calls"]) <= 30


def test_calibrated_p_values_are_uniform_on_non_members():
    pool = fake_pool(m=12, n=800, p=100, leak=2.0, seed=10)
    pv = out_pvalues(pool.view(0, sim_targets=8))
    nonmember = ~pool.member[0]
    assert pv.min() > 0 and pv.max() <= 1
    assert abs(np.mean(pv[nonmember] <= 0.1) - 0.1) < 0.04
    assert np.mean(pv[pool.member[0]] <= 0.1) > 0.3
    z_problem = target_problem(pool.view(0))
    assert z_problem.ref_out.shape == (11, 800)
