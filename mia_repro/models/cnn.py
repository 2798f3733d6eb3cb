"""The paper's CNN, written with ``keras`` only (any Keras 3 backend)."""
from __future__ import annotations

import itertools

from mia_repro.base.quiet import keras
import numpy as np

from mia_repro.models.config import ModelConfig


def _regularizer(cfg: ModelConfig):
    return keras.regularizers.L2(cfg.l2) if cfg.l2 > 0 else None


def build_cnn(cfg: ModelConfig, seed: int | None = None, steps_per_execution: int = 1) -> keras.Model:
    """Build and compile the target/shadow CNN.

    Input float32 (batch, 32, 32, 3) in [0, 1] (see ``data.to_model_input``);
    output float32 (batch, num_classes) softmax probabilities of the layer
    ``"logits"`` (its output is what :mod:`mia_repro.models.inference` reads).
    L2 (``cfg.l2``) applies to every kernel and bias; dropout (``cfg.dropout``)
    follows each pooling block and the dense layer.  ``seed`` fixes the
    initial weights and dropout masks.  ``steps_per_execution``: training
    steps per call into the backend (Keras ``compile``); it changes speed, not
    the result (bit-equal weights under deterministic kernels, see
    ``tests/models/test_models.py``).
    """
    reg = _regularizer(cfg)
    # per-layer seeds below 2**31: every backend's seed dtype (int64 on TF, uint32 on JAX) holds them
    seeds = itertools.repeat(None) if seed is None else iter(np.random.default_rng(seed).integers(0, 2**31 - 1, size=16).tolist())

    def init():
        return keras.initializers.GlorotUniform(seed=next(seeds))

    def dropout(x):
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, seed=next(seeds))(x)
        return x

    inputs = keras.Input(shape=cfg.input_shape, name="image")
    x = inputs
    for i, (filters, kernel) in enumerate(zip(cfg.conv_filters, cfg.conv_kernels)):
        x = keras.layers.Conv2D(
            filters,
            kernel,
            padding="valid",
            activation=cfg.activation,
            kernel_initializer=init(),
            kernel_regularizer=reg,
            bias_regularizer=reg,
            name=f"conv{i + 1}",
        )(x)
        x = keras.layers.MaxPooling2D(cfg.pool_size, name=f"pool{i + 1}")(x)
        x = dropout(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        cfg.dense_units,
        activation=cfg.activation,
        kernel_initializer=init(),
        kernel_regularizer=reg,
        bias_regularizer=reg,
        name="dense",
    )(x)
    x = dropout(x)
    logits = keras.layers.Dense(
        cfg.num_classes,
        kernel_initializer=init(),
        kernel_regularizer=reg,
        bias_regularizer=reg,
        name="logits",
    )(x)
    outputs = keras.layers.Activation("softmax", name="softmax")(logits)
    model = keras.Model(inputs, outputs, name="shokri_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model
