"""DP-SGD (mia_repro.training.dp_sgd / dp_grads), its accounting (mia_repro.privacy.accounting) and its config.

Backend-neutral: CI runs them on TensorFlow; `KERAS_BACKEND=jax pytest tests/training/test_dp.py` (with jax installed)
runs them on JAX."""
import dataclasses
import math

import numpy as np
import pytest

from mia_repro.base.errors import ConfigError
from mia_repro.models.config import DPConfig, ModelConfig
from mia_repro.experiment.keys import config_key
from mia_repro.experiment.profiles import get_config
from mia_repro.models.cnn import build_cnn
from mia_repro.privacy.accounting import calibrate, epsilon_pld, epsilon_rdp, schedule_for, steps_per_epoch
from mia_repro.base.quiet import keras
from mia_repro.training.dp_grads import clipped_sum_fn
from mia_repro.training.dp_sgd import DPStep, logits_model, train_dp
from mia_repro.training.jobs import TrainJob

pytestmark = pytest.mark.training  # every test takes DP-SGD steps


TINY = ModelConfig(epochs=1, batch_size=8, conv_filters=(4, 4), dense_units=8)


def batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 32, 32, 3), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)


def weights_of(model):
    return [np.asarray(w) for w in model.get_weights()]


# ---- config ----------------------------------------------------------------------------------------------

def test_dp_config_validates_when_made():
    with pytest.raises(ConfigError, match="exactly one"):
        DPConfig()
    with pytest.raises(ConfigError, match="exactly one"):
        DPConfig(target_epsilon=1.0, noise_multiplier=1.0)
    for bad in (dict(target_epsilon=0.0), dict(target_epsilon=math.inf), dict(target_epsilon=-1.0)):
        with pytest.raises(ConfigError, match="dp.target_epsilon"):
            DPConfig(**bad)
    with pytest.raises(ConfigError, match="dp.noise_multiplier"):
        DPConfig(noise_multiplier=-0.1)
    with pytest.raises(ConfigError, match="dp.clip_norm"):
        DPConfig(target_epsilon=1.0, clip_norm=0.0)
    for delta in (0.0, 1.0):
        with pytest.raises(ConfigError, match="dp.delta"):
            DPConfig(target_epsilon=1.0, delta=delta)
    with pytest.raises(ConfigError, match="dp.optimizer"):
        DPConfig(target_epsilon=1.0, optimizer="rmsprop")
    for kwargs in (dict(target_epsilon=1.0), dict(noise_multiplier=0.0)):  # no clipping guarantees nothing
        with pytest.raises(ConfigError, match="^dp.clip_norm: expected a positive finite number"):
            DPConfig(clip_norm=math.inf, **kwargs)
    assert DPConfig(target_epsilon=1.0, broken="no_clipping", canaries=10).broken == "no_clipping"
    with pytest.raises(ConfigError, match="^dp.noise_seed"):
        DPConfig(target_epsilon=1.0, noise_seed=-1)
    with pytest.raises(ConfigError, match="^dp.canaries"):
        DPConfig(target_epsilon=1.0, canaries=-1)
    cfg = get_config("smoke")
    with pytest.raises(ConfigError, match="model.dp"):
        dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, l2=1e-3, dp=DPConfig(target_epsilon=1.0)))
    with pytest.raises(ConfigError, match="mitigation.dp_epsilons"):
        dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, dp_epsilons=(0.0,)))
    with pytest.raises(ConfigError, match="^mitigation.dp_clip_norm: expected a positive finite number"):
        dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, dp_clip_norm=-1.0))
    with pytest.raises(ConfigError, match="^mitigation.dp_delta: "):
        dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, dp_delta=2.0))


def test_dp_is_part_of_the_cache_key_and_absent_dp_keeps_old_keys():
    plain = ModelConfig()
    assert config_key(plain) != config_key(dataclasses.replace(plain, dp=DPConfig(target_epsilon=1.0)))
    assert config_key(dataclasses.replace(plain, dp=DPConfig(target_epsilon=1.0))) != config_key(
        dataclasses.replace(plain, dp=DPConfig(target_epsilon=2.0)))
    # the key of an ordinary model is what it was before the dp field existed (committed caches stay valid)
    assert config_key(get_config("quick").model, 1) == "1746b0476229"


# ---- accounting -------------------------------------------------------------------------------------------

def test_epsilon_of_a_fixed_schedule_is_the_accountants_own():
    import dp_accounting
    from dp_accounting import pld, rdp

    s = schedule_for(DPConfig(noise_multiplier=1.1, delta=1e-5), n=2500, batch_size=32, epochs=10)
    assert (s.sampling_rate, s.steps, s.noise_multiplier, s.clip_norm) == (32 / 2500, 10 * 79, 1.1, 1.0)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(32 / 2500, dp_accounting.GaussianDpEvent(1.1)), 790)
    a, p = rdp.RdpAccountant(), pld.PLDAccountant()
    a.compose(event)
    p.compose(event)
    assert s.epsilon == a.get_epsilon(1e-5)
    assert s.epsilon_pld == p.get_epsilon(1e-5)
    assert s.epsilon_pld < s.epsilon  # PLD is the tighter accountant here
    assert steps_per_epoch(2500, 32) == 79 and steps_per_epoch(64, 32) == 2


def test_calibrated_noise_meets_the_target_epsilon_tightly():
    q, steps = 32 / 2500, 790
    sigmas = []
    for eps in (1.0, 8.0):
        sigma = calibrate(eps, q, steps, 1e-5)
        assert eps - 0.01 <= epsilon_rdp(sigma, q, steps, 1e-5) <= eps
        assert epsilon_rdp(sigma * 0.99, q, steps, 1e-5) > eps  # not a loose over-estimate of the noise
        sigmas.append(sigma)
    assert sigmas[0] > sigmas[1]
    s = schedule_for(DPConfig(target_epsilon=2.0), 2500, 32, 10)
    assert s.epsilon <= 2.0 and s.epsilon == pytest.approx(2.0, abs=0.01)
    assert epsilon_rdp(0.0, q, steps, 1e-5) == math.inf and epsilon_pld(0.0, q, steps, 1e-5) == math.inf


# ---- the DP step ------------------------------------------------------------------------------------------

def test_dp_step_without_clipping_or_noise_is_the_ordinary_step():
    """C = inf and sigma = 0, divisor = the batch size: three Adam steps give the weights of three ordinary
    Keras steps (mean cross-entropy over the batch) on the same batches."""
    keras.utils.set_random_seed(1)
    dp_model = logits_model(build_cnn(TINY, seed=5))
    plain = logits_model(build_cnn(TINY, seed=5))
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(dp_model), weights_of(plain)))
    plain.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    step = DPStep(dp_model, keras.optimizers.Adam(1e-3), clip_norm=math.inf, noise_multiplier=0.0, divisor=8)
    rng = np.random.default_rng(0)
    for i in range(3):
        x, y = batch(8, seed=i)
        step(x, y, rng)
        plain.train_on_batch(x, y)
    for a, b in zip(weights_of(dp_model), weights_of(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(weights_of(dp_model)[0], weights_of(logits_model(build_cnn(TINY, seed=5)))[0])


def test_every_clipped_per_example_gradient_has_norm_at_most_c():
    model = logits_model(build_cnn(TINY, seed=3))
    x, y = batch(6, seed=2)
    _, norms = clipped_sum_fn(model, math.inf)(x, y)
    clip = float(np.median(norms))  # half the examples are clipped, half are not
    fn = clipped_sum_fn(model, clip)
    for i in range(6):  # a batch of one: the sum is that example's clipped gradient
        (sums, n_i) = fn(x[i:i + 1], y[i:i + 1])
        norm = math.sqrt(sum(float(np.sum(s.astype(np.float64) ** 2)) for s in sums))
        assert norm <= clip * (1 + 1e-5)
        if n_i[0] > clip:
            assert norm == pytest.approx(clip, rel=1e-4)  # scaled down onto the sphere of radius C
        else:
            assert norm == pytest.approx(float(n_i[0]), rel=1e-4)  # untouched
    assert (norms > clip).sum() >= 2 and (norms < clip).sum() >= 2
    # the batch's sum is the sum of the single-example clipped gradients
    total, _ = fn(x, y)
    singles = [fn(x[i:i + 1], y[i:i + 1])[0] for i in range(6)]
    for v, t in enumerate(total):
        np.testing.assert_allclose(t, sum(s[v] for s in singles), rtol=1e-4, atol=1e-6)


def test_noise_has_the_expected_standard_deviation():
    """Zero gradients (an empty Poisson batch), SGD at learning rate 1: each step moves every weight by
    -N(0, (sigma C)^2) / divisor.  Tolerance: 5% on the pooled standard deviation (~1,700 weights x 4 steps,
    standard error 0.9%), mean within 5 standard errors of 0."""
    model = logits_model(build_cnn(TINY, seed=4))
    sigma, clip, divisor = 1.3, 0.7, 16.0
    step = DPStep(model, keras.optimizers.SGD(learning_rate=1.0), clip, sigma, divisor)
    before = np.concatenate([w.ravel() for w in weights_of(model)])
    rng = np.random.default_rng(7)
    empty_x, empty_y = np.zeros((0, 32, 32, 3), np.float32), np.zeros(0, np.int32)
    moves = []
    for _ in range(4):
        step(empty_x, empty_y, rng)
        after = np.concatenate([w.ravel() for w in weights_of(model)])
        moves.append(before - after)
        before = after
    moves = np.concatenate(moves).astype(np.float64)
    expected = sigma * clip / divisor
    assert moves.std() == pytest.approx(expected, rel=0.05)
    assert abs(moves.mean()) < 5 * expected / math.sqrt(len(moves))


def test_dp_training_is_seeded_and_records_its_schedule(tiny_dataset):
    _, x, y = tiny_dataset
    cfg = dataclasses.replace(TINY, epochs=2, dp=DPConfig(target_epsilon=8.0, noise_seed="model"))
    job = TrainJob("target", np.arange(40), np.arange(40, 80), seed=9)
    a, b = train_dp(job, cfg, x, y), train_dp(job, cfg, x, y)
    assert all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))  # public noise: reproducible
    secret = dataclasses.replace(cfg, dp=DPConfig(target_epsilon=8.0))  # the default: fresh noise every run
    c, d = train_dp(job, secret, x, y), train_dp(job, secret, x, y)
    assert not all(np.array_equal(u, v) for u, v in zip(c.weights, d.weights))
    s = a.extra["dp"]
    assert s["steps"] == 2 * steps_per_epoch(40, 8) and s["sampling_rate"] == 8 / 40
    assert s["epsilon"] == pytest.approx(8.0, abs=0.01) and s["epsilon_pld"] <= s["epsilon"]
    assert s["epsilon"] == epsilon_rdp(s["noise_multiplier"], s["sampling_rate"], s["steps"], s["delta"])
    assert a.trainer == "dp-sgd" and a.probs.shape == (80, 10)
    assert set(a.history) == {"loss", "accuracy", "clipped_fraction"} and len(a.history["loss"]) == 2
    other = train_dp(TrainJob("target", np.arange(40), np.arange(40, 80), seed=10), cfg, x, y)
    assert not np.array_equal(other.weights[0], a.weights[0])


def test_a_dp_model_on_smoke_trains_above_chance(real_data):
    """The smoke profile's model at n = 400 with DP-SGD at epsilon 16 for 20 epochs (260 noisy steps; at
    smoke's own 2 epochs DP-SGD takes 26 and stays at chance, and at epsilon 8 the 400 members' noise keeps
    test accuracy near 0.13): test accuracy on 1,600 non-members above chance (0.10) by more than 4 binomial
    standard errors (0.030).  Measured here: 0.171 and 0.181 for seeds 0 and 1."""
    from mia_repro.experiment.plan import load_data

    cfg = get_config("smoke")
    x, y = load_data(cfg)
    model_cfg = dataclasses.replace(cfg.model, epochs=20, dp=DPConfig(target_epsilon=16.0))
    result = train_dp(TrainJob("target", np.arange(400), np.arange(400, 2000), seed=0), model_cfg, x, y)
    test_acc = float(np.mean(result.probs[400:].argmax(1) == y[400:2000]))
    assert test_acc > 0.10 + 4 * math.sqrt(0.09 / 1600), test_acc


def test_per_example_gradients_name_the_backends_they_support(monkeypatch):
    import mia_repro.training.dp_grads as dp_grads

    monkeypatch.setattr(dp_grads.keras.backend, "backend", lambda: "torch")
    with pytest.raises(NotImplementedError, match="tensorflow and jax"):
        dp_grads.clipped_sum_fn(None, 1.0)


def test_delta_at_or_above_one_over_n_is_refused_with_the_reason():
    from mia_repro.privacy.accounting import schedule_for

    for delta in (0.005, 0.01, 0.5):  # n = 200: 1/n = 0.005
        with pytest.raises(ConfigError, match=r"^dp.delta: expected δ < 1/n = 0.005 \(n = 200 training records\)"):
            schedule_for(DPConfig(target_epsilon=1.0, delta=delta), 200, 32, 1)
    assert schedule_for(DPConfig(noise_multiplier=1.0, delta=0.0049), 200, 32, 1).delta == 0.0049
    cfg = get_config("smoke")  # mitigation at n = 200, the audit at n = 200
    with pytest.raises(ConfigError, match=r"^mitigation.dp_delta: expected δ < 1/n = 0.005 .*publishes one record"):
        dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, dp_delta=0.01))


def test_the_realized_batch_trainer_divides_by_the_batch_it_drew():
    """No noise, no clipping, SGD at learning rate 1: the correct trainer moves the weights by sum / divisor, the
    broken one by sum / (records in the batch + canaries sampled); its canaries observe the update times the
    expected batch size (the noisy sum for a trainer that divides by that constant)."""
    from mia_repro.training.canaries import WhiteBoxCanaries

    x, y = batch(5, seed=3)
    moved = {}
    for realized in (False, True):
        model = logits_model(build_cnn(TINY, seed=6))
        step = DPStep(model, keras.optimizers.SGD(learning_rate=1.0), math.inf, 0.0, divisor=10.0,
                      realized_batch=realized)
        before = [w.astype(np.float64) for w in weights_of(model)]
        can = WhiteBoxCanaries([tuple(v.shape) for v in step.variables], m=4, clip_norm=math.inf, seed=2)
        step(x, y, np.random.default_rng(0), can, sampling_rate=1.0)
        moved[realized] = ([b - a for b, a in zip(before, weights_of(model))], can)
    hits = moved[True][1].last_hits
    assert hits == int(moved[True][1].included.sum()) >= 1
    for a, b in zip(moved[False][0], moved[True][0]):  # the same sum, divided by 10 and by 5 + hits
        np.testing.assert_allclose(b * (5 + hits), a * 10, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(moved[True][1].score, moved[False][1].score * 10 / (5 + hits),
                               rtol=1e-5, atol=1e-7)


def test_the_schedule_comes_from_the_public_size():
    """``public_size`` 40 of 48 training records (8 canaries drawn in): q = 8 / 40 and 2 epochs of 5 steps."""
    from mia_repro.models.config import DPConfig
    from mia_repro.training.dp_sgd import dp_fit

    model = logits_model(build_cnn(TINY, seed=1))
    x, y = batch(48, seed=4)
    schedule, _, _ = dp_fit(model, x, y, DPConfig(noise_multiplier=1.0), epochs=2, batch_size=8, seed=0,
                            optimizer=keras.optimizers.SGD(learning_rate=0.1), public_size=40)
    assert schedule.sampling_rate == 8 / 40 and schedule.steps == 10
    with pytest.raises(ValueError, match="public_size"):
        dp_fit(model, x, y, DPConfig(noise_multiplier=1.0), 1, 8, 0, keras.optimizers.SGD(0.1), public_size=49)
