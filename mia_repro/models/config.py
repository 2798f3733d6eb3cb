"""The CNN's configuration: the paper's architecture and its training (:class:`ModelConfig`), optionally
DP-SGD (:class:`DPConfig`).  Each is validated when made (:class:`~mia_repro.base.errors.ConfigError` naming the
field, ``model.<field>`` / ``dp.<field>``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from mia_repro.base.validation import is_int, is_number, need, positive_ints


DP_OPTIMIZERS = ("adam", "sgd")
#: deliberately broken DP-SGD, for testing the audit: "no_noise" adds no noise while the accountant is told σ,
#: "no_clipping" clips nothing while the accountant assumes C, "realized_batch" divides the noisy sum by the
#: step's realized batch size instead of the expected one
BROKEN_TRAINERS = ("no_noise", "no_clipping", "realized_batch")
NOISE_SEEDS = ("secret", "model")


@dataclass(frozen=True)
class DPConfig:
    """DP-SGD (Abadi et al., CCS 2016) for the CNN: each step samples every member with probability
    q = batch_size / n (Poisson), clips each example's gradient to L2 norm ``clip_norm``, adds Gaussian
    noise of standard deviation ``noise_multiplier * clip_norm`` to their sum and divides by the expected
    batch size; ``optimizer`` ("adam" or "sgd", at the model's learning rate) applies the result.

    Give ``target_epsilon`` (σ is then calibrated with ``dp-accounting``'s RDP accountant for the
    schedule, :func:`mia_repro.privacy.accounting.schedule_for`) or ``noise_multiplier``, not both; ``delta`` is the δ
    of (ε, δ)-DP.  Validated when made (:class:`ConfigError` naming the field).

    ``noise_seed``: where the noise comes from.  The (ε, δ) guarantee assumes noise nobody can reproduce:
    "secret" (the default) draws a fresh seed from the operating system for every training run and records
    nothing of it; "model" derives it from the model's (public) seed, so that a run reproduces bit for bit
    but the guarantee then holds only against an adversary who does not know the config's seed (the
    committed reproductions use "model"); an int is that seed.

    ``canaries``: white-box gradient canaries for the one-run audit (:mod:`mia_repro.training.canaries`),
    part of the training run under the same clipping, sampling and noise as the data.  ``blackbox_canaries``:
    that many records outside the job's own, each with a seeded wrong label, each added to the training set
    with probability 1/2 (:func:`mia_repro.training.canaries.blackbox_canaries`); the trainer scores them by
    their loss on the final model.  ``broken``: one of
    :data:`BROKEN_TRAINERS`, a deliberately broken trainer whose audit must prove more than its claim; only
    with canaries (it exists to test the audit).
    """

    target_epsilon: float | None = None
    noise_multiplier: float | None = None
    clip_norm: float = 1.0
    delta: float = 1e-5
    optimizer: str = "adam"
    noise_seed: int | str = field(default="secret", metadata={"key_omit_if": "model"})
    canaries: int = field(default=0, metadata={"key_omit_if": 0})
    blackbox_canaries: int = field(default=0, metadata={"key_omit_if": 0})
    broken: str | None = field(default=None, metadata={"key_omit_if": None})

    def __post_init__(self):
        need((self.target_epsilon is None) != (self.noise_multiplier is None), "dp",
              "give exactly one of target_epsilon and noise_multiplier", (self.target_epsilon, self.noise_multiplier))
        if self.target_epsilon is not None:
            need(is_number(self.target_epsilon) and 0 < self.target_epsilon < math.inf, "dp.target_epsilon",
                  "expected a positive finite number", self.target_epsilon)
        if self.noise_multiplier is not None:
            need(is_number(self.noise_multiplier) and 0 <= self.noise_multiplier < math.inf, "dp.noise_multiplier",
                  "expected a number >= 0", self.noise_multiplier)
        need(is_number(self.clip_norm) and 0 < self.clip_norm < math.inf, "dp.clip_norm",
              "expected a positive finite number (DP-SGD without clipping guarantees nothing; the audit's test of "
              "itself uses broken='no_clipping')", self.clip_norm)
        need(is_number(self.delta) and 0 < self.delta < 1, "dp.delta", "expected a number in (0, 1)", self.delta)
        need(self.optimizer in DP_OPTIMIZERS, "dp.optimizer", f"expected one of {', '.join(DP_OPTIMIZERS)}",
              self.optimizer)
        need(self.noise_seed in NOISE_SEEDS or (is_int(self.noise_seed) and self.noise_seed >= 0), "dp.noise_seed",
             f"expected {' or '.join(NOISE_SEEDS)} or an integer >= 0", self.noise_seed)
        need(is_int(self.canaries) and self.canaries >= 0, "dp.canaries", "expected an integer >= 0", self.canaries)
        need(is_int(self.blackbox_canaries) and self.blackbox_canaries >= 0, "dp.blackbox_canaries",
             "expected an integer >= 0", self.blackbox_canaries)
        need(self.broken is None or self.broken in BROKEN_TRAINERS, "dp.broken",
             f"expected None or one of {', '.join(BROKEN_TRAINERS)}", self.broken)
        need(self.broken is None or self.canaries + self.blackbox_canaries > 0, "dp.broken",
             "a broken trainer exists to test the audit: give canaries > 0", self.broken)


@dataclass(frozen=True)
class ModelConfig:
    """The paper's CNN and how it is trained (shared by target and shadows).

    Defaults follow the seed reproduction: Conv2D 32@5x5 valid tanh -> MaxPool 2
    -> Conv2D 32@3x3 valid tanh -> MaxPool 2 -> Flatten -> Dense 128 tanh ->
    Dense 10 softmax; Adam lr 1e-3; batch size 32; inputs scaled to [0, 1].
    ``l2`` (on all kernels and biases) and ``dropout`` (after each pooling
    block and after the dense layer) are off by default.
    """

    input_shape: tuple[int, int, int] = (32, 32, 3)
    num_classes: int = 10
    conv_filters: tuple[int, ...] = (32, 32)
    conv_kernels: tuple[int, ...] = (5, 3)
    pool_size: int = 2
    dense_units: int = 128
    activation: str = "tanh"
    learning_rate: float = 1e-3
    batch_size: int = 32
    epochs: int = 100
    scale_inputs: bool = True
    l2: float = 0.0
    dropout: float = 0.0
    #: DP-SGD instead of ordinary training (None: ordinary).  Left out of cache keys while None, so the keys
    #: of every model trained before DP existed are unchanged.
    dp: DPConfig | None = field(default=None, metadata={"key_omit_if": None})

    def __post_init__(self):
        m = self
        need(is_int(m.epochs) and m.epochs >= 1, "model.epochs", "expected an integer >= 1", m.epochs)
        need(is_int(m.batch_size) and m.batch_size >= 1, "model.batch_size", "expected an integer >= 1", m.batch_size)
        need(is_number(m.learning_rate) and 0 < m.learning_rate < math.inf, "model.learning_rate", "expected a positive finite number",
             m.learning_rate)
        need(is_number(m.l2) and 0 <= m.l2 <= 1, "model.l2", "expected a number in [0, 1] (a larger penalty "
             "drives every weight to 0 and overflows the loss)", m.l2)
        need(is_number(m.dropout) and 0 <= m.dropout < 1, "model.dropout", "expected a number in [0, 1)", m.dropout)
        need(is_int(m.num_classes) and m.num_classes >= 2, "model.num_classes", "expected an integer >= 2",
             m.num_classes)
        need(m.dp is None or isinstance(m.dp, DPConfig), "model.dp", "expected a DPConfig or None", m.dp)
        if m.dp is not None:
            need(m.l2 == 0 and m.dropout == 0, "model.dp", "DP-SGD trains the plain CNN: set l2 and dropout to 0",
                 (m.l2, m.dropout))
        positive_ints("model.conv_filters", m.conv_filters)
        positive_ints("model.conv_kernels", m.conv_kernels)
