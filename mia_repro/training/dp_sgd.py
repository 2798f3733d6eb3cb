"""The DP-SGD trainer (Abadi et al., CCS 2016, Algorithm 1) for the paper's CNN.

Each of ``steps = epochs * ceil(n / batch_size)`` steps draws a **Poisson** batch (every training record
independently with probability ``q = batch_size / n``, a seeded numpy generator; the batch size varies,
as the accountant assumes; ``n`` is the public size, the members, even when the audit draws secret
canaries into the training set), clips each example's gradient to L2 norm ``C``
(:mod:`.dp_grads`, the only backend-specific code), adds Gaussian noise of standard deviation ``σ C`` to
the sum (seeded numpy noise, so a model's bits do not depend on the backend's random generator),
divides by the *expected* batch size ``q n`` and applies the result with the configured optimizer
(Adam or SGD at the model's learning rate).  ε comes from :mod:`mia_repro.privacy.accounting`.

The noise's generator is seeded as ``cfg.dp.noise_seed`` says (:class:`~mia_repro.models.config.DPConfig`):
fresh from the operating system ("secret"), from the model's seed ("model") or from a given integer.  With
``cfg.dp.canaries`` the run carries white-box canaries (:mod:`.canaries`) and records their scores for the
one-run audit; ``cfg.dp.broken`` trains a deliberately broken DP-SGD while recording the schedule the
accountant was told, to test the audit: "no_noise", "no_clipping", or "realized_batch" (the noisy sum
divided by the realized batch size |B_t| instead of the expected one, so the update's scale reveals how many
records the step sampled; a claimed leak beyond the accountant, arXiv 2605.15648).

Outside the guarantee: the per-epoch ``loss``, ``accuracy`` and ``clipped_fraction`` in the model's history
are computed from the members without noise; they are diagnostics that fall outside (ε, δ) and must not be
published as private.
"""
from __future__ import annotations

import math
import time

import numpy as np

from mia_repro.attacks.signals import log_softmax
from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import to_model_input
from mia_repro.models.inference import predict_batched
from mia_repro.models.cnn import build_cnn
from mia_repro.privacy.accounting import Schedule, schedule_for
from mia_repro.base.quiet import keras
from mia_repro.training.canaries import WhiteBoxCanaries, blackbox_canaries
from mia_repro.training.jobs import TrainJob, TrainResult


def logits_model(model) -> "keras.Model":
    """The CNN up to its ``"logits"`` layer (weights shared with ``model``); a single input stays a single
    tensor, so calling it with an array raises no Keras structure warning."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, model.get_layer("logits").output)


def noise_generator(noise_seed: int | str, model_seed: int) -> np.random.Generator:
    """The DP noise's generator: fresh OS entropy for "secret", the model's seed for "model", else the given int."""
    if noise_seed == "secret":
        return np.random.default_rng()
    return np.random.default_rng([int(model_seed) if noise_seed == "model" else int(noise_seed), 13])


def make_optimizer(name: str, learning_rate: float):
    """A DP run's optimizer: ``name`` ("adam" or "sgd", :data:`~mia_repro.models.config.DP_OPTIMIZERS`) at
    ``learning_rate``."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate)
    return keras.optimizers.Adam(learning_rate=learning_rate)


class DPStep:
    """One DP-SGD step on a logits model: ``step(x, y, noise_rng)`` clips, sums, adds N(0, (σC)^2) noise,
    divides by ``divisor`` and applies ``optimizer``; returns the per-example gradient norms (B,).  The noise's
    C is ``noise_scale`` when given (a trainer that does not clip still adds the noise the accountant assumed).
    ``realized_batch``: divide by the step's realized batch size (at least 1) instead, the broken trainer
    of that name."""

    def __init__(self, model, optimizer, clip_norm: float, noise_multiplier: float, divisor: float,
                 noise_scale: float | None = None, realized_batch: bool = False):
        from mia_repro.training.dp_grads import clipped_sum_fn

        self.model, self.optimizer, self.divisor = model, optimizer, float(divisor)
        self.realized_batch = bool(realized_batch)
        scale = float(clip_norm if noise_scale is None else noise_scale)  # the C of the noise's σC
        self.noise_std = float(noise_multiplier) * scale if noise_multiplier > 0 else 0.0
        self.variables = model.trainable_variables
        self.clipped_sum = clipped_sum_fn(model, clip_norm)
        optimizer.build(self.variables)

    def gradient(self, x: np.ndarray, y: np.ndarray, noise_rng: np.random.Generator, canaries=None,
                 sampling_rate: float = 0.0) -> tuple[list[np.ndarray], np.ndarray]:
        """The noisy averaged gradient (float32, one per variable) and the per-example norms; with
        ``canaries`` (:class:`~mia_repro.training.canaries.WhiteBoxCanaries`) their sampled gradients join the
        clipped sum before the noise and they observe the release: the averaged gradient times the expected
        batch size (the noisy sum itself when the divisor is that constant)."""
        if len(x):
            sums, norms = self.clipped_sum(x, y)
        else:  # an empty Poisson batch: the step is noise alone
            sums, norms = [np.zeros(v.shape, np.float32) for v in self.variables], np.zeros(0, np.float32)
        if canaries is not None:
            sums = canaries.add(sums, sampling_rate)
        noisy = [s + (noise_rng.standard_normal(s.shape) * self.noise_std if self.noise_std else 0.0) for s in sums]
        divisor = self.divisor
        if self.realized_batch:
            divisor = float(max(1, len(x) + (canaries.last_hits if canaries is not None else 0)))
        if canaries is not None:
            canaries.observe(noisy if divisor == self.divisor else [n * (self.divisor / divisor) for n in noisy])
        return [(n / divisor).astype(np.float32) for n in noisy], norms

    def __call__(self, x: np.ndarray, y: np.ndarray, noise_rng: np.random.Generator, canaries=None,
                 sampling_rate: float = 0.0) -> np.ndarray:
        grads, norms = self.gradient(x, y, noise_rng, canaries, sampling_rate)
        self.optimizer.apply(grads, self.variables)
        return norms


def dp_fit(logits, xs: np.ndarray, ys: np.ndarray, dp, epochs: int, batch_size: int, seed: int, optimizer,
           evaluate=None, verbose: int = 0, name: str = "", public_size: int | None = None,
           before_training=None) -> tuple[Schedule, dict, "WhiteBoxCanaries | None"]:
    """DP-SGD on any Keras model ``logits`` that outputs logits (B, C): ``xs`` float32 (N, ...) model inputs,
    ``ys`` int32 (N,), ``dp`` a :class:`~mia_repro.models.config.DPConfig`, ``seed`` the batch sampling's
    (and the canaries', and with ``noise_seed="model"`` the noise's) seed; ``public_size`` the n of the
    schedule (q = batch_size / n, steps, the expected batch), N when None (a training set with secret
    canaries drawn in passes its members' count); ``before_training(schedule, canaries)`` is called once
    both are made, before the first step.  ``evaluate()`` -> (loss, accuracy)
    on the members after each epoch, for the history.  Returns the :class:`Schedule` (what the accountant
    was told, also for a broken trainer), the history (``loss``, ``accuracy``, ``clipped_fraction`` per
    epoch; outside the guarantee, see the module) and the canaries (None without)."""
    n = len(xs)
    public = n if public_size is None else int(public_size)
    if not 0 < public <= n:
        raise ValueError(f"public_size {public_size!r}: expected 1..{n}, the training set's size")
    schedule: Schedule = schedule_for(dp, public, batch_size, epochs)
    clip = math.inf if dp.broken == "no_clipping" else dp.clip_norm
    sigma = 0.0 if dp.broken == "no_noise" else schedule.noise_multiplier
    step = DPStep(logits, optimizer, clip, sigma, schedule.sampling_rate * public, noise_scale=dp.clip_norm,
                  realized_batch=dp.broken == "realized_batch")
    canaries = (WhiteBoxCanaries([tuple(v.shape) for v in step.variables], dp.canaries, clip, seed,
                                 claimed_clip=dp.clip_norm, claimed_noise_std=schedule.noise_multiplier * dp.clip_norm,
                                 sampling_rate=schedule.sampling_rate)
                if dp.canaries else None)
    if before_training is not None:
        before_training(schedule, canaries)
    sample_rng = np.random.default_rng([seed, 11])
    noise_rng = noise_generator(dp.noise_seed, seed)
    per_epoch = schedule.steps // epochs
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "clipped_fraction": []}
    for epoch in range(epochs):
        clipped = seen = 0
        for _ in range(per_epoch):
            batch = np.flatnonzero(sample_rng.random(n) < schedule.sampling_rate)
            norms = step(xs[batch], ys[batch], noise_rng, canaries, schedule.sampling_rate)
            clipped += int((norms > dp.clip_norm).sum())
            seen += len(batch)
        loss, acc = evaluate() if evaluate is not None else (float("nan"), float("nan"))
        history["loss"].append(float(loss))
        history["accuracy"].append(float(acc))
        history["clipped_fraction"].append(clipped / max(seen, 1))
        if verbose:
            print(f"  {name} epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.3f}, "
                  f"accuracy {history['accuracy'][-1]:.3f}, clipped {history['clipped_fraction'][-1]:.2f}")
    return schedule, history, canaries


def train_dp(job: TrainJob, cfg: ModelConfig, x: np.ndarray, y: np.ndarray, verbose: int = 0) -> TrainResult:
    """Train ``job`` with DP-SGD (``cfg.dp``); ``x`` uint8 (N, 32, 32, 3), ``y`` int (N,).  The result's
    ``extra["dp"]`` is the :class:`~mia_repro.privacy.accounting.Schedule` as a dict (σ, q, steps, C, δ, both ε); its
    history has per-epoch ``loss`` (mean over the epoch's sampled examples), ``accuracy`` and
    ``clipped_fraction`` (examples whose gradient norm exceeded C), outside the guarantee (see the module).
    With canaries ``extra["canaries"]`` is their record (:meth:`WhiteBoxCanaries.record`); a broken trainer's
    ``extra["broken"]`` names what it broke while ``extra["dp"]`` keeps what the accountant was told."""
    start = time.perf_counter()
    n = len(job.members)
    keras.utils.set_random_seed(job.seed)
    model = build_cnn(cfg, seed=job.seed)
    xs = to_model_input(x[job.members], cfg.scale_inputs)
    ys = np.asarray(y[job.members], np.int32)
    bb = None
    if cfg.dp.blackbox_canaries:  # mislabelled records, each in the training set with probability 1/2
        bb = blackbox_canaries(len(x), job.eval_indices, y, cfg.dp.blackbox_canaries, cfg.num_classes, job.seed)
        xs = np.concatenate([xs, to_model_input(x[bb[0][bb[2]]], cfg.scale_inputs)])
        ys = np.concatenate([ys, bb[1][bb[2]]])

    def evaluate() -> tuple[float, float]:
        probs = predict_batched(model, x[job.members], cfg).astype(np.float64)  # the members (canaries aside)
        ym = ys[:n]
        return float(-np.mean(np.log(np.clip(probs[np.arange(n), ym], 1e-12, None)))), float(np.mean(probs.argmax(1) == ym))

    schedule, history, canaries = dp_fit(logits_model(model), xs, ys, cfg.dp, cfg.epochs, cfg.batch_size, job.seed,
                                         make_optimizer(cfg.dp.optimizer, cfg.learning_rate), evaluate, verbose,
                                         job.name, public_size=n)
    extra = {"dp": schedule.to_dict(), **({"canaries": canaries.record()} if canaries else {})}
    if bb is not None:
        z = predict_batched(logits_model(model), x[bb[0]], cfg)
        logp = log_softmax(z)[np.arange(len(bb[0])), bb[1]]  # float64 from logits: no ties at saturation
        extra["blackbox_canaries"] = {"indices": bb[0].tolist(), "labels": bb[1].tolist(), "included": bb[2].tolist(),
                                      "score": logp.tolist()}
    broken = cfg.dp.broken
    result = TrainResult(name=job.name, probs=predict_batched(model, x[job.eval_indices], cfg), history=history,
                         weights=model.get_weights(), seconds=time.perf_counter() - start, trainer="dp-sgd",
                         extra={**extra, **({"broken": broken} if broken else {})})
    keras.backend.clear_session()
    return result
