"""Train K same-architecture CNNs at once, in one graph (for GPUs).

The K models' inputs are stacked on the channel axis (B, 32, 32, K*3); each
convolution is one ``Conv2D(groups=K)`` (group k sees only model k's
channels), each dense layer an ``EinsumDense`` with a per-model kernel
(``"bkd,kde->bke"``).  The model has K outputs, one per model, with K
sparse-crossentropy losses that Keras sums.  The gradient of a sum of
independent losses w.r.t. model k's parameters is model k's own gradient, and
Adam's update is per parameter, so this *is* K separate trainings — see
``tests/training/test_stacked.py`` for the numerical check.  Each model draws its own
batch order from its own seed.

On CPU (TensorFlow in particular) grouped convolutions are very slow: use the
sequential trainer there (``training.choose_trainer`` does).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.models.inference import PREDICT_BATCH
from mia_repro.models.cnn import build_cnn
from mia_repro.base.quiet import backend_noise_filtered, keras
from mia_repro.training.jobs import TrainJob, TrainResult, default_steps_per_execution

ops = keras.ops


def build_stacked_cnn(cfg: ModelConfig, k: int, steps_per_execution: int = 1) -> keras.Model:
    """K copies of ``build_cnn(cfg)`` in one compiled model.

    Input uint8 or float (B, H, W, K*C), model k's image in channels
    [k*C, (k+1)*C); scaled by 1/255 inside when ``cfg.scale_inputs``.
    Outputs: a list of K float32 (B, num_classes) softmax tensors.
    """
    reg = (lambda: keras.regularizers.L2(cfg.l2)) if cfg.l2 > 0 else (lambda: None)
    h, w, c = cfg.input_shape
    inputs = keras.Input(shape=(h, w, k * c), name="stacked_images")
    x = keras.layers.Rescaling(1.0 / 255.0 if cfg.scale_inputs else 1.0, name="scale")(inputs)
    for i, (filters, kernel) in enumerate(zip(cfg.conv_filters, cfg.conv_kernels)):
        x = keras.layers.Conv2D(k * filters, kernel, padding="valid", groups=k, activation=cfg.activation,
                                kernel_regularizer=reg(), bias_regularizer=reg(), name=f"conv{i + 1}")(x)
        x = keras.layers.MaxPooling2D(cfg.pool_size, name=f"pool{i + 1}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout)(x)
    _, fh, fw, _ = x.shape
    f = cfg.conv_filters[-1]
    # per-model flatten in the same (h, w, c) order as keras.layers.Flatten
    x = keras.layers.Reshape((fh, fw, k, f))(x)
    x = keras.layers.Permute((3, 1, 2, 4))(x)
    x = keras.layers.Reshape((k, fh * fw * f), name="flatten")(x)
    x = keras.layers.EinsumDense("bkd,kde->bke", output_shape=(k, cfg.dense_units), bias_axes="ke",
                                 activation=cfg.activation, kernel_regularizer=reg(), bias_regularizer=reg(),
                                 name="dense")(x)
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout)(x)
    x = keras.layers.EinsumDense("bkd,kde->bke", output_shape=(k, cfg.num_classes), bias_axes="ke",
                                 kernel_regularizer=reg(), bias_regularizer=reg(), name="logits")(x)
    probs = keras.layers.Softmax(axis=-1, name="softmax")(x)
    outputs = [keras.layers.Lambda(lambda t, i=i: t[:, i, :], name=f"m{i}")(probs) for i in range(k)]
    model = keras.Model(inputs, outputs, name=f"stacked_cnn_x{k}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
        loss=["sparse_categorical_crossentropy"] * k,
        metrics=[["accuracy"]] * k,
        steps_per_execution=steps_per_execution,
    )
    return model


def _conv_count(cfg: ModelConfig) -> int:
    return len(cfg.conv_filters)


def stack_weights(per_model: Sequence[list[np.ndarray]], cfg: ModelConfig) -> list[np.ndarray]:
    """K weight lists of ``build_cnn(cfg)`` -> the weights of ``build_stacked_cnn(cfg, K)``.

    Convolution kernels/biases are concatenated on the output-channel axis,
    dense kernels/biases stacked on a new leading model axis.
    """
    n_conv = 2 * _conv_count(cfg)
    out = []
    for j in range(len(per_model[0])):
        arrs = [w[j] for w in per_model]
        out.append(np.concatenate(arrs, axis=-1) if j < n_conv else np.stack(arrs))
    return out


def unstack_weights(stacked: list[np.ndarray], k: int, cfg: ModelConfig) -> list[list[np.ndarray]]:
    """Inverse of :func:`stack_weights`: K weight lists that load into ``build_cnn(cfg)``."""
    n_conv = 2 * _conv_count(cfg)
    per_model: list[list[np.ndarray]] = [[] for _ in range(k)]
    for j, arr in enumerate(stacked):
        parts = np.split(arr, k, axis=-1) if j < n_conv else list(arr)
        for i in range(k):
            per_model[i].append(np.ascontiguousarray(parts[i]))
    return per_model


def epoch_orders(jobs: Sequence[TrainJob], epochs: int) -> list[list[np.ndarray]]:
    """``orders[e][k]``: the permutation of model k's members in epoch e (from the job's seed)."""
    rngs = [np.random.default_rng([job.seed, 11]) for job in jobs]
    return [[rng.permutation(len(job.members)) for rng, job in zip(rngs, jobs)] for _ in range(epochs)]


def stack_inputs(x: np.ndarray, index_lists: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 (n, H, W, K*C): record ``index_lists[k][i]`` of ``x`` in model k's channels of row i."""
    return np.concatenate([x[idx] for idx in index_lists], axis=-1)


def train_stacked(
    jobs: Sequence[TrainJob],
    cfg: ModelConfig,
    x: np.ndarray,
    y: np.ndarray,
    verbose: int = 0,
    initial_weights: Sequence[list[np.ndarray]] | None = None,
    orders: list[list[np.ndarray]] | None = None,
    steps_per_execution: int | None = None,
) -> list[TrainResult]:
    """Train ``jobs`` (all with the same number of members) together.

    ``x`` uint8 (N, H, W, C), ``y`` int (N,).  ``initial_weights`` (default:
    ``build_cnn(cfg, seed=job.seed)``'s) and ``orders`` (default:
    :func:`epoch_orders`) exist for the equivalence test.  Returns one
    :class:`TrainResult` per job, weights loadable into ``build_cnn(cfg)``.
    """
    k = len(jobs)
    sizes = {len(j.members) for j in jobs} | {len(j.nonmembers) for j in jobs}
    if len({len(j.members) for j in jobs}) != 1 or len({len(j.nonmembers) for j in jobs}) != 1:
        raise ValueError(f"stacked training needs equal member and non-member counts, got {sorted(sizes)}")
    start = time.perf_counter()
    if initial_weights is None:
        initial_weights = [build_cnn(cfg, seed=job.seed).get_weights() for job in jobs]
    if steps_per_execution is None:
        steps_per_execution = default_steps_per_execution("stacked")
    keras.utils.set_random_seed(jobs[0].seed)
    model = build_stacked_cnn(cfg, k, steps_per_execution)
    model.set_weights(stack_weights(initial_weights, cfg))
    orders = epoch_orders(jobs, cfg.epochs) if orders is None else orders
    history: list[dict[str, list[float]]] = [{"loss": [], "accuracy": []} for _ in range(k)]
    for epoch, order in enumerate(orders):
        idx = [job.members[o] for job, o in zip(jobs, order)]
        with backend_noise_filtered():
            h = model.fit(stack_inputs(x, idx), [y[i] for i in idx], batch_size=cfg.batch_size, epochs=1,
                          shuffle=False, verbose=verbose)
        for i in range(k):
            history[i]["loss"].append(float(h.history[f"m{i}_loss"][0]))
            history[i]["accuracy"].append(float(h.history[f"m{i}_accuracy"][0]))
    weights = unstack_weights(model.get_weights(), k, cfg)
    evals = [job.eval_indices for job in jobs]
    preds: list[list[np.ndarray]] = [[] for _ in range(k)]
    for lo in range(0, len(evals[0]), PREDICT_BATCH):
        outs = model(ops.convert_to_tensor(stack_inputs(x, [e[lo : lo + PREDICT_BATCH] for e in evals]).astype(np.float32)),
                     training=False)
        for i in range(k):
            preds[i].append(ops.convert_to_numpy(outs[i]))
    seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return [
        TrainResult(job.name, np.concatenate(preds[i]).astype(np.float32), history[i], weights[i], seconds / k, "stacked",
                    {"k": k, "steps_per_execution": steps_per_execution})
        for i, job in enumerate(jobs)
    ]
