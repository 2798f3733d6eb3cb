"""DP-SGD and the one-run audit on a model of one's own (a small Keras MLP on synthetic data)."""
import numpy as np
import pytest

from mia_repro.models.config import DPConfig
from mia_repro.own_dp import OwnDPInputError, audit_dp_run, train_dp_sgd
from mia_repro.quiet import keras


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
    assert 0 <= audit["epsilon_lower_bound"] < audit["claimed_epsilon"]
    broken = train_dp_sgd(_mlp(), x, y, DPConfig(target_epsilon=0.5, canaries=100, broken="no_noise",
                                                 noise_seed="model"), epochs=3, batch_size=20)
    assert audit_dp_run(broken)["epsilon_lower_bound"] > broken.schedule["epsilon"]  # caught


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
