"""DP-SGD and the one-run audit on a model of one's own (a small Keras MLP on synthetic data)."""
import numpy as np
import pytest

from mia_repro.models.config import DPConfig
from mia_repro.privacy.ceiling import steinke_cap
from mia_repro.training.own_dp import OwnDPInputError, audit_dp_run, train_dp_sgd
from mia_repro.base.quiet import keras


pytestmark = pytest.mark.training  # every test trains an own model with DP-SGD


def _mlp(classes=3, norm=None):
    layers = [keras.Input((8,)), keras.layers.Dense(256, activation="tanh")]  # canaries: 1 of ~3,000 parameters each
    if norm is not None:
        layers.append(norm)
    layers.append(keras.layers.Dense(classes))
    keras.utils.set_random_seed(0)
    return keras.Sequential(layers)


def _data(n=120):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


def test_an_own_model_trains_with_dp_sgd_and_its_canaries_audit_it():
    x, y = _data()
    run = train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=2.0, canaries=100, noise_seed="model"), epochs=3,
                       batch_size=20)
    s = run.schedule
    assert s["sampling_rate"] == 20 / 120 and s["steps"] == 3 * 6 and s["epsilon"] == pytest.approx(2.0, abs=0.01)
    assert len(run.history["loss"]) == 3 and len(run.canaries["score"]) == 100
    audit = audit_dp_run(run)
    assert 0 <= audit["epsilon_lower_bound"] < audit["claimed_epsilon"] and not audit["exceeds_claim"]
    assert audit["epsilon_cap"] == run.epsilon_cap == steinke_cap(100, 1e-5, 0.95, sum(run.canaries["included"]))
    assert audit["lr_epsilon_lower_bound"] is not None and audit["lr_epsilon_lower_bound"] < audit["claimed_epsilon"]
    broken = train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=0.5, canaries=100, broken="no_noise",
                                                 noise_seed="model"), epochs=3, batch_size=20)
    caught = audit_dp_run(broken)
    assert caught["epsilon_lower_bound"] > broken.schedule["epsilon"] and caught["exceeds_claim"]


def test_a_claim_its_canaries_cannot_break_is_announced_before_training():
    """20 canaries prove at most ε ≈ 0.6 (every guess right): a claim of ε = 4 cannot be shown broken, and the
    warning says so before any step (the history is empty when it is raised as an error)."""
    import warnings

    from mia_repro.training.own_dp import AuditCeilingWarning

    x, y = _data()
    model = _mlp()
    dp = DPConfig(target_epsilon=4.0, canaries=20, noise_seed="model")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AuditCeilingWarning)
        with pytest.raises(AuditCeilingWarning, match=r"the most ε that 20 canaries can prove is \d\.\d\d .*not above the "
                                                      r"claimed ε = 4\.00"):
            train_dp_sgd(model, x, y, dp, epochs=1, batch_size=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AuditCeilingWarning)  # a breakable claim: no warning
        train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=0.5, canaries=100, noise_seed="model"), epochs=1,
                     batch_size=20)
    assert train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=2.0), epochs=1, batch_size=20).epsilon_cap is None


def test_bad_own_dp_inputs_are_named():
    x, y = _data()
    dp = DPConfig(target_epsilon=2.0)
    with pytest.raises(OwnDPInputError, match="BatchNormalization"):
        train_dp_sgd(_mlp(norm=keras.layers.BatchNormalization()), x, y, dp, epochs=1)
    with pytest.raises(OwnDPInputError, match="labels must lie in 0..2"):
        train_dp_sgd(_mlp(), x, y + 5, dp, epochs=1)
    with pytest.raises(OwnDPInputError, match="finite float"):
        train_dp_sgd(_mlp(), np.full_like(x, np.nan), y, dp, epochs=1)
    with pytest.raises(OwnDPInputError, match="DPConfig"):
        train_dp_sgd(_mlp(), x, y, {"target_epsilon": 2.0}, epochs=1)
    with pytest.raises(OwnDPInputError, match="no canaries"):
        audit_dp_run(train_dp_sgd(_mlp(), x, y, dp, epochs=1, batch_size=20))


def _softmax_mlp(classes=3, as_layer=False):
    keras.utils.set_random_seed(0)
    if as_layer:
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), keras.layers.Softmax()])
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh"),
                             keras.layers.Dense(classes, activation="softmax")])


@pytest.mark.parametrize("as_layer", [False, True], ids=["activation", "layer"])
def test_a_softmax_model_is_refused_as_not_giving_logits(as_layer):
    x, y = _data()
    with pytest.raises(OwnDPInputError, match="outputs are probabilities .*activation=None"):
        train_dp_sgd(_softmax_mlp(as_layer=as_layer), x, y, DPConfig(target_epsilon=2.0), epochs=1)


@pytest.mark.parametrize("lr", [float("nan"), -1.0, 0.0, float("inf"), "x", True])
def test_a_learning_rate_that_cannot_train_is_refused(lr):
    x, y = _data()
    with pytest.raises(OwnDPInputError, match="learning_rate: expected a positive finite number"):
        train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=2.0), epochs=1, learning_rate=lr)


def test_inputs_of_another_width_are_named_not_a_keras_error():
    x, y = _data()
    with pytest.raises(OwnDPInputError, match=r"x: the model takes inputs of shape \(8,\) per example, x has \(5,\)"):
        train_dp_sgd(_mlp(), x[:, :5], y, DPConfig(target_epsilon=2.0), epochs=1)


def test_more_canaries_than_parameters_are_named():
    x, y = _data()
    n = sum(int(np.prod(v.shape)) for v in _mlp().trainable_variables)
    with pytest.raises(OwnDPInputError, match=f"dp.canaries: {n + 1} white-box canaries .* the model has {n}"):
        train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=2.0, canaries=n + 1), epochs=1)


@pytest.mark.parametrize("run", ["x", None, {"schedule": {}}])
def test_auditing_what_is_not_a_run_is_named(run):
    with pytest.raises(OwnDPInputError, match="run: expected what train_dp_sgd returned"):
        audit_dp_run(run)


def test_a_logit_model_still_trains_after_the_checks():
    x, y = _data()
    run = train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=2.0, noise_seed="model"), epochs=1, batch_size=20,
                       learning_rate=1e-2)
    assert run.schedule["steps"] == 6
