"""What Stage I asks a trained model besides its softmax vectors.

:func:`query_model` loads a model's weights into ``build_cnn`` and returns its
logits (pre-softmax, float32) on every record set that the attacks need: its
own 2n records, the target's 2n records (a shadow's *reference* outputs: it
never trained on them), the population sample, and its predicted labels on
augmented copies of its own records.  Both trainers go through this one path,
and so does the completion of an old cache file whose weights exist.
"""
from __future__ import annotations

import time

from mia_repro.base.quiet import keras
import numpy as np

from mia_repro.data.augment import augment
from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import to_model_input
from mia_repro.models.cnn import build_cnn

PREDICT_BATCH = 1024


def logits_model(model: keras.Model) -> keras.Model:
    """The sub-model from the image input to the ``"logits"`` layer of ``build_cnn``."""
    return keras.Model(model.input, model.get_layer("logits").output)


def predict_batched(model: keras.Model, x: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """float32 (N, num_classes) outputs of ``model`` (softmax or logits) on uint8 images ``x`` (N, 32, 32, 3).

    A compiled model is run with ``predict_on_batch``, an uncompiled one eagerly.
    """
    run = model.predict_on_batch if model.compiled else (lambda b: model(b, training=False))
    out = []
    for i in range(0, len(x), PREDICT_BATCH):
        batch = x[i : i + PREDICT_BATCH]
        pad = PREDICT_BATCH - len(batch) if model.compiled else 0  # one batch shape: no retracing on the tail
        if pad:
            batch = np.concatenate([batch, np.zeros((pad, *batch.shape[1:]), batch.dtype)])
        pred = keras.ops.convert_to_numpy(run(to_model_input(batch, cfg.scale_inputs)))
        out.append(pred[: len(pred) - pad])
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, cfg.num_classes), np.float32)


def query_model(weights: list[np.ndarray], cfg: ModelConfig, x: np.ndarray, own: np.ndarray,
                population: np.ndarray, augmentations: tuple[str, ...],
                reference: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Everything Stage I keeps of one model besides training (inference only).

    ``weights``: ``build_cnn(cfg).get_weights()`` of the trained model; ``x``
    uint8 (N, 32, 32, 3) pooled images; ``own`` int64 (2n,) its members then
    non-members; ``population`` int64 (P,); ``reference`` int64 (2n_t,) the
    target's records (shadows only).  Returns ``logits`` (2n, C),
    ``pop_logits`` (P, C), ``aug_labels`` int16 (A, 2n) (argmax on each
    augmentation of the own records), ``ref_logits`` (2n_t, C) when
    ``reference`` is given (all float32), and ``inference_seconds``.
    """
    start = time.perf_counter()
    model = build_cnn(cfg)
    model.set_weights(weights)
    net = logits_model(model)
    net.compile()  # predict_on_batch then runs a compiled function, not eager calls
    own_x = x[own]
    out = {
        "logits": predict_batched(net, own_x, cfg),
        "pop_logits": predict_batched(net, x[population], cfg),
        "aug_labels": np.stack([predict_batched(net, augment(own_x, a), cfg).argmax(axis=1) for a in augmentations]
                               ).astype(np.int16) if augmentations else np.zeros((0, len(own)), np.int16),
    }
    if reference is not None:
        out["ref_logits"] = predict_batched(net, x[reference], cfg)
    keras.backend.clear_session()
    out["inference_seconds"] = np.float64(time.perf_counter() - start)
    return out
