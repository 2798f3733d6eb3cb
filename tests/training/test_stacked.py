"""The stacked multi-model trainer is the same training as K separate runs."""
import keras
import numpy as np
import pytest

from conftest import synthetic_images
from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import to_model_input
from mia_repro.models.cnn import build_cnn
from mia_repro.training.stacked import build_stacked_cnn, epoch_orders, stack_weights, train_stacked, unstack_weights
from mia_repro.models.inference import predict_batched as predict
from mia_repro.training import TrainJob

pytestmark = pytest.mark.training  # every test trains stacked and separate models


CFG = ModelConfig(epochs=2, batch_size=8, conv_filters=(4, 6), dense_units=8)
K, N = 3, 20


def jobs(x_len):
    rng = np.random.default_rng(0)
    out = []
    for k in range(K):
        idx = rng.choice(x_len, 2 * N, replace=False)
        out.append(TrainJob(f"m{k}", idx[:N], idx[N:], seed=100 + k))
    return out


def test_weights_roundtrip():
    singles = [build_cnn(CFG, seed=s).get_weights() for s in (1, 2, 3)]
    back = unstack_weights(stack_weights(singles, CFG), 3, CFG)
    for a, b in zip(singles, back):
        for wa, wb in zip(a, b):
            np.testing.assert_array_equal(wa, wb)


def test_stacked_forward_equals_single_models():
    x, _ = synthetic_images(16, seed=1)
    singles = [build_cnn(CFG, seed=s) for s in (1, 2, 3)]
    stacked = build_stacked_cnn(CFG, 3)
    stacked.set_weights(stack_weights([m.get_weights() for m in singles], CFG))
    xs = [x[np.random.default_rng(i).permutation(16)] for i in range(3)]
    outs = stacked(np.concatenate(xs, axis=-1).astype(np.float32))
    for i, m in enumerate(singles):
        np.testing.assert_allclose(np.asarray(outs[i]), predict(m, xs[i], CFG), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_stacked_training_equals_separate_training(l2):
    cfg = ModelConfig(**{**CFG.__dict__, "l2": l2})
    x, y = synthetic_images(100, seed=2)
    js = jobs(len(x))
    init = [build_cnn(cfg, seed=j.seed).get_weights() for j in js]
    orders = epoch_orders(js, cfg.epochs)
    stacked = train_stacked(js, cfg, x, y, initial_weights=init, orders=orders, steps_per_execution=1)
    for k, job in enumerate(js):
        keras.utils.set_random_seed(job.seed)
        single = build_cnn(cfg)
        single.set_weights(init[k])
        for order in orders:
            idx = job.members[order[k]]
            single.fit(to_model_input(x[idx]), y[idx], batch_size=cfg.batch_size, epochs=1, shuffle=False, verbose=0)
        for w_single, w_stacked in zip(single.get_weights(), stacked[k].weights):
            assert w_single.shape == w_stacked.shape
            np.testing.assert_allclose(w_stacked, w_single, rtol=1e-4, atol=1e-5)
        moved = max(np.abs(a - b).max() for a, b in zip(init[k], single.get_weights()))
        assert moved > 1e-3, "training did not move the weights; the comparison would be vacuous"
        np.testing.assert_allclose(stacked[k].probs, predict(single, x[job.eval_indices], cfg), rtol=1e-4, atol=1e-5)
        assert len(stacked[k].history["loss"]) == cfg.epochs and stacked[k].trainer == "stacked"


def test_stacked_weights_load_into_plain_model():
    x, y = synthetic_images(100, seed=3)
    res = train_stacked(jobs(len(x)), CFG, x, y, steps_per_execution=1)
    plain = build_cnn(CFG)
    plain.set_weights(res[1].weights)
    np.testing.assert_allclose(predict(plain, x[jobs(len(x))[1].eval_indices], CFG), res[1].probs, rtol=1e-4, atol=1e-5)


def test_unequal_sizes_are_refused():
    x, y = synthetic_images(50)
    bad = [TrainJob("a", np.arange(10), np.arange(10, 20), 1), TrainJob("b", np.arange(12), np.arange(12, 22), 2)]
    with pytest.raises(ValueError, match="equal member"):
        train_stacked(bad, CFG, x, y)
