import keras
import numpy as np
import pytest

from mia_repro.models.config import ModelConfig
from mia_repro.models.cnn import build_cnn


def test_architecture_matches_the_paper_cnn():
    model = build_cnn(ModelConfig())
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense", "Activation"]
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    assert conv1.kernel.shape == (5, 5, 3, 32) and conv2.kernel.shape == (3, 3, 32, 32)
    assert model.get_layer("flatten").output.shape[-1] == 6 * 6 * 32
    assert model.get_layer("dense").units == 128 and model.output.shape[-1] == 10
    assert model.get_layer("logits").units == 10 and model.get_layer("softmax").activation.__name__ == "softmax"
    assert model.optimizer.learning_rate.numpy() == np.float32(1e-3)
    probs = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_no_regularization_by_default():
    model = build_cnn(ModelConfig())
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    assert all(getattr(layer, "kernel_regularizer", None) is None for layer in model.layers)


def test_l2_and_dropout_are_really_in_the_model():
    model = build_cnn(ModelConfig(l2=5e-3, dropout=0.25))
    regs = [layer for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None]
    assert {layer.name for layer in regs} == {"conv1", "conv2", "dense", "logits"}
    for layer in regs:
        assert np.isclose(float(layer.kernel_regularizer.l2), 5e-3) and np.isclose(float(layer.bias_regularizer.l2), 5e-3)
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(drops) == 3 and all(d.rate == 0.25 for d in drops)
    assert len(model.losses) == 8  # kernel + bias penalty on four layers


def test_seed_fixes_initial_weights():
    a, b = build_cnn(ModelConfig(), seed=3), build_cnn(ModelConfig(), seed=3)
    c = build_cnn(ModelConfig(), seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


@pytest.mark.training
def test_steps_per_execution_changes_speed_not_weights():
    """Several steps per backend call (including a last call with fewer steps than asked) train the same
    model as one step per call: bit-equal weights and history under deterministic kernels."""
    import dataclasses

    from mia_repro.data.cifar10 import to_model_input
    from mia_repro.base.determinism import set_deterministic

    set_deterministic(True)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 200)
    cfg = dataclasses.replace(ModelConfig(conv_filters=(4, 4), dense_units=8), epochs=2)
    runs = []
    for spe in (1, 4):  # 200 / 32 = 7 steps an epoch: calls of 4 + 3 steps
        keras.utils.set_random_seed(3)
        model = build_cnn(cfg, seed=3, steps_per_execution=spe)
        hist = model.fit(to_model_input(x, True), y, batch_size=32, epochs=2, verbose=0)
        runs.append((model.get_weights(), hist.history))
        keras.backend.clear_session()
    (w1, h1), (w4, h4) = runs
    assert h1 == h4 and all(np.array_equal(a, b) for a, b in zip(w1, w4))
    assert not np.array_equal(w1[0], build_cnn(cfg, seed=3).get_weights()[0])  # it did train
