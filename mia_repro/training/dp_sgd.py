"""The DP-SGD trainer (Abadi et al., CCS 2016, Algorithm 1) for the paper's CNN.

Each of ``steps = epochs * ceil(n / batch_size)`` steps draws a **Poisson** batch (every member
independently with probability ``q = batch_size / n``, a seeded numpy generator; the batch size varies,
as the accountant assumes), clips each example's gradient to L2 norm ``C``
(:mod:`.dp_grads`, the only backend-specific code), adds Gaussian noise of standard deviation ``σ C`` to
the sum (seeded numpy noise, so a model's bits do not depend on the backend's random generator),
divides by the *expected* batch size ``q n`` and applies the result with the configured optimizer
(Adam or SGD at the model's learning rate).  ε comes from :mod:`mia_repro.privacy`.
"""
from __future__ import annotations

import time

import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import to_model_input
from mia_repro.models.inference import predict_batched
from mia_repro.models.cnn import build_cnn
from mia_repro.privacy import Schedule, schedule_for
from mia_repro.quiet import keras
from mia_repro.training.jobs import TrainJob, TrainResult


def logits_model(model) -> "keras.Model":
    """The CNN up to its ``"logits"`` layer (weights shared with ``model``)."""
    return keras.Model(model.inputs, model.get_layer("logits").output)


def make_optimizer(cfg: ModelConfig):
    """The DP run's optimizer: ``cfg.dp.optimizer`` at ``cfg.learning_rate``."""
    if cfg.dp.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg.learning_rate)
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate)


class DPStep:
    """One DP-SGD step on a logits model: ``step(x, y, noise_rng)`` clips, sums, adds N(0, (σC)^2) noise,
    divides by ``divisor`` and applies ``optimizer``; returns the per-example gradient norms (B,)."""

    def __init__(self, model, optimizer, clip_norm: float, noise_multiplier: float, divisor: float):
        from mia_repro.training.dp_grads import clipped_sum_fn

        self.model, self.optimizer, self.divisor = model, optimizer, float(divisor)
        self.noise_std = float(noise_multiplier) * float(clip_norm) if noise_multiplier > 0 else 0.0
        self.variables = model.trainable_variables
        self.clipped_sum = clipped_sum_fn(model, clip_norm)
        optimizer.build(self.variables)

    def gradient(self, x: np.ndarray, y: np.ndarray, noise_rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
        """The noisy averaged gradient (float32, one per variable) and the per-example norms."""
        if len(x):
            sums, norms = self.clipped_sum(x, y)
        else:  # an empty Poisson batch: the step is noise alone
            sums, norms = [np.zeros(v.shape, np.float32) for v in self.variables], np.zeros(0, np.float32)
        grads = []
        for s in sums:
            noise = noise_rng.standard_normal(s.shape) * self.noise_std if self.noise_std else 0.0
            grads.append(((s + noise) / self.divisor).astype(np.float32))
        return grads, norms

    def __call__(self, x: np.ndarray, y: np.ndarray, noise_rng: np.random.Generator) -> np.ndarray:
        grads, norms = self.gradient(x, y, noise_rng)
        self.optimizer.apply(grads, self.variables)
        return norms


def train_dp(job: TrainJob, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, verbose: int = 0) -> TrainResult:
    """Train ``job`` with DP-SGD (``cfg.dp``); ``x`` uint8 (N, 32, 32, 3), ``y`` int (N,).  The result's
    ``extra["dp"]`` is the :class:`~mia_repro.privacy.Schedule` as a dict (σ, q, steps, C, δ, both ε); its
    history has per-epoch ``loss`` (mean over the epoch's sampled examples), ``accuracy`` and
    ``clipped_fraction`` (examples whose gradient norm exceeded C)."""
    start = time.perf_counter()
    n = len(job.members)
    schedule: Schedule = schedule_for(cfg.dp, n, cfg.batch_size, cfg.epochs)
    keras.utils.set_random_seed(job.seed)
    model = build_cnn(cfg, seed=job.seed)
    logits = logits_model(model)
    step = DPStep(logits, make_optimizer(cfg), cfg.dp.clip_norm, schedule.noise_multiplier, schedule.sampling_rate * n)
    xs = to_model_input(x[job.members], cfg.scale_inputs)
    ys = np.asarray(y[job.members], np.int32)
    sample_rng = np.random.default_rng([job.seed, 11])
    noise_rng = np.random.default_rng([job.seed, 13])
    per_epoch = schedule.steps // cfg.epochs
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "clipped_fraction": []}
    for epoch in range(cfg.epochs):
        clipped = seen = 0
        for _ in range(per_epoch):
            batch = np.flatnonzero(sample_rng.random(n) < schedule.sampling_rate)
            norms = step(xs[batch], ys[batch], noise_rng)
            clipped += int((norms > cfg.dp.clip_norm).sum())
            seen += len(batch)
        probs = predict_batched(model, x[job.members], cfg).astype(np.float64)
        history["loss"].append(float(-np.mean(np.log(np.clip(probs[np.arange(n), ys], 1e-12, None)))))
        history["accuracy"].append(float(np.mean(probs.argmax(1) == ys)))
        history["clipped_fraction"].append(clipped / max(seen, 1))
        if verbose:
            print(f"  {job.name} epoch {epoch + 1}/{cfg.epochs}: loss {history['loss'][-1]:.3f}, "
                  f"accuracy {history['accuracy'][-1]:.3f}, clipped {history['clipped_fraction'][-1]:.2f}")
    result = TrainResult(name=job.name, probs=predict_batched(model, x[job.eval_indices], cfg), history=history,
                         weights=model.get_weights(), seconds=time.perf_counter() - start, trainer="dp-sgd",
                         extra={"dp": schedule.to_dict()})
    keras.backend.clear_session()
    return result
