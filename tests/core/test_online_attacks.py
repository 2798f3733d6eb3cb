"""The online attacks against their equations computed by hand, on cases small enough to write down."""
import numpy as np
import pytest
from scipy.stats import norm

from fakes import fake_pool, fake_stage1
from mia_repro.attacks import AttackerView, AttackInputError, LiRAOnline, RMIAOnline
from mia_repro.attacks.thresholds import fpr_threshold
from mia_repro.attacks.signals import logit_confidence
from mia_repro.attacks.reference import ReferenceProblem
from mia_repro.attacks.rmia import rmia_score


def logits_with_phi(phi: np.ndarray) -> np.ndarray:
    """Two-class logits (..., 2) of true class 0 whose logit-scaled confidence is ``phi``."""
    phi = np.asarray(phi, np.float64)
    return np.stack([phi, np.zeros_like(phi)], axis=-1)


def problem(phi_target, phi_ref, ref_in, p_target_pop=(0.5, 0.2), p_ref_pop=((0.4, 0.3),)):
    z = logits_with_phi(phi_target)
    r = logits_with_phi(phi_ref)
    pop = np.log(np.stack([np.asarray(p_target_pop), 1 - np.asarray(p_target_pop)], -1))
    pref = np.asarray(p_ref_pop, np.float64)
    pop_ref = np.log(np.stack([pref, 1 - pref], -1))
    n = len(phi_target)
    return ReferenceProblem(z, np.zeros(n, int), r, ~np.asarray(ref_in, bool), pop, np.zeros(pop.shape[0], int),
                            pop_ref, np.ones(pop_ref.shape[:2], bool))


def test_two_class_logits_give_the_phi_asked_for():
    np.testing.assert_allclose(logit_confidence(logits_with_phi([1.5, -2.0]), np.zeros(2, int)), [1.5, -2.0])


def test_online_lira_is_the_log_likelihood_ratio_of_the_in_and_out_gaussians_by_hand():
    # record 0: IN refs phi 3, 5 (mean 4, sd sqrt(2)); OUT refs 0, 2 (mean 1, sd sqrt(2)); target phi 3.5
    # record 1: IN refs 1, 1.5 (mean 1.25, sd sqrt(.125)); OUT refs -1, 0 (mean -0.5, sd sqrt(.5)); target 0
    ref_phi = np.array([[3.0, 1.0], [5.0, 1.5], [0.0, -1.0], [2.0, 0.0]])
    ref_in = np.array([[1, 1], [1, 1], [0, 0], [0, 0]], bool)
    p = problem([3.5, 0.0], ref_phi, ref_in)
    got = LiRAOnline().problem_score(p)
    want = [norm.logpdf(3.5, 4, np.sqrt(2)) - norm.logpdf(3.5, 1, np.sqrt(2)),
            norm.logpdf(0, 1.25, np.sqrt(0.125)) - norm.logpdf(0, -0.5, np.sqrt(0.5))]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # global variance: pooled IN spread ((1+1+.0625+.0625) / (4 - 2)), pooled OUT ((1+1+.25+.25) / 2)
    s_in, s_out = np.sqrt(2.125 / 2), np.sqrt(2.5 / 2)
    want_g = [norm.logpdf(3.5, 4, s_in) - norm.logpdf(3.5, 1, s_out), norm.logpdf(0, 1.25, s_in) - norm.logpdf(0, -0.5, s_out)]
    np.testing.assert_allclose(LiRAOnline(variance="global").problem_score(p), want_g, rtol=1e-12)


def test_online_lira_fills_a_missing_side_by_the_mean_in_out_gap():
    # one reference: IN for record 0 (phi 4), OUT for record 1 (phi 1); gap = 4 - 1 = 3
    p = problem([2.0, 2.0], np.array([[4.0, 1.0]]), np.array([[1, 0]], bool))
    mu_in = np.array([4.0, 4.0])   # record 1 had no IN: mu_out + gap = 1 + 3
    mu_out = np.array([1.0, 1.0])  # record 0 had no OUT: mu_in - gap = 4 - 3
    # one entry per side: the pooled spread has no degree of freedom left: sigma 1 on both sides, so the
    # score is the difference of the two squared distances (a linear function of phi - midpoint)
    got = LiRAOnline(variance="global").problem_score(p)
    want = -0.5 * (2 - mu_in) ** 2 + 0.5 * (2 - mu_out) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got, (mu_in - mu_out) * (2 - (mu_in + mu_out) / 2), rtol=1e-12)


def test_online_lira_needs_in_and_out_entries():
    p = problem([1.0], np.array([[1.0], [2.0]]), np.array([[0], [0]], bool))
    with pytest.raises(AttackInputError, match="no IN entry or no OUT entry"):
        LiRAOnline().problem_score(p)


def test_online_rmia_is_its_equation_by_hand():
    # true-class probabilities: target on x: 0.9; refs on x: IN 0.8, 0.6 (mean .7), OUT 0.2 (mean .2)
    # Pr(x) online = (0.7 + 0.2) / 2 = 0.45, ratio_x = 0.9 / 0.45 = 2
    # population z1, z2: target p 0.5, 0.2; refs (OUT) p 0.4, 0.3 averaged over the 3 refs
    phi = lambda q: np.log(q) - np.log1p(-q)
    p = problem([phi(0.9)], np.array([[phi(0.8)], [phi(0.6)], [phi(0.2)]]), np.array([[1], [1], [0]], bool),
                p_target_pop=(0.5, 0.2), p_ref_pop=((0.4, 0.3), (0.4, 0.3), (0.4, 0.3)))
    ratio_x = 0.9 / 0.45
    ratio_z = np.array([0.5 / 0.4, 0.2 / 0.3])
    for gamma in (1.0, 2.0):
        frac = np.mean(ratio_x / ratio_z >= gamma)
        want = frac + (0.5 + np.arctan(np.log(ratio_x)) / np.pi) / 3
        np.testing.assert_allclose(rmia_score(p, None, gamma), [want], rtol=1e-12)
    # gamma 2: LR(x, z1) = 1.6 < 2, LR(x, z2) = 3 >= 2: a fraction of 1/2
    assert np.floor(rmia_score(p, None, 2.0)[0] * 2) / 2 == 0.5


def test_online_attacks_refuse_a_view_without_in_references_and_say_why():
    so, labels = fake_stage1(n=40, n_shadows=3, pool=400, population=80)
    view = AttackerView.from_stage1(so, labels)
    for attack in (LiRAOnline(), RMIAOnline()):
        with pytest.raises(AttackInputError, match="online attack needs reference models trained with"):
            attack.fit(view)


def test_online_beats_chance_on_a_pool_and_predict_is_score_at_least_threshold():
    pool = fake_pool(m=8, n=300, leak=3.0)
    view = pool.view(0, sim_targets=4)
    for attack in (LiRAOnline(), LiRAOnline(variance="global"), RMIAOnline(gamma_grid=(1.0, 2.0))):
        attack.fit(view)
        score = attack.score(view)
        from sklearn.metrics import roc_auc_score
        assert roc_auc_score(pool.member[0], score) > 0.75
        np.testing.assert_array_equal(attack.predict(view), (score >= attack.threshold_).astype(int))


@pytest.mark.parametrize("fpr, want", [(0.0, 9.0), (0.25, 8.0), (0.5, 7.0), (0.99, 6.0)])
def test_fpr_threshold_allows_at_most_the_share_of_non_members_asked(fpr, want):
    member = np.array([0, 0, 0, 0, 1, 1], bool)
    score = np.array([9.0, 8.0, 7.0, 6.0, 8.5, 5.0])
    t = fpr_threshold(member, score, fpr)
    calls = score[~member] >= t
    assert calls.sum() <= np.floor(fpr * 4) and calls.sum() == np.floor(fpr * 4 + 1e-9)
    assert np.nextafter(want, np.inf) == t or (fpr == 0.99 and t == np.nextafter(6.0, np.inf))
