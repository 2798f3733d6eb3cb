"""One typed configuration object per experiment (:class:`ExperimentConfig`), the schema of its sections.

``ExperimentConfig`` holds everything that changes a result: the model and its training
(:class:`~mia_repro.models.config.ModelConfig`), Shokri's attack models
(:class:`~mia_repro.attacks.config.AttackConfig`), what Stage I keeps (:class:`OutputsConfig`), the
mitigation sweep (:class:`MitigationConfig`) and the reference pool (:class:`PoolConfig`), plus where and how it runs.  Each section validates its own
fields when it is made; :func:`validate` checks what ties them together (sizes against the pooled records,
top-k against the classes, the aware shadows against the shadows).  Named profiles and
:func:`~mia_repro.experiment.profiles.get_config`: :mod:`.profiles`; folders and file names:
:mod:`.layout`; cache keys: :mod:`.keys`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mia_repro.attacks.config import AttackConfig
from mia_repro.data.augment import parse_augmentation
from mia_repro.base.errors import ConfigError
from mia_repro.experiment.keys import plain
from mia_repro.models.config import DPConfig, ModelConfig
from mia_repro.base.validation import delta_problem, is_int, is_number, need, positive_ints, positive_numbers

__all__ = ["AttackConfig", "ConfigError", "DPConfig", "ExperimentConfig", "MitigationConfig", "ModelConfig",
           "OutputsConfig", "PoolConfig", "to_dict", "validate"]

N_POOLED = 60000  # CIFAR-10's training and test records, pooled
MAX_WORKERS = 1024
MAX_SEED = 2**32 - 1  # what numpy's and every backend's seeding accepts
# "local", or a Dask address: scheme://host:port (tcp, tls, inproc, ucx, ws, wss) or host:port
#: the named profiles by name, filled by :mod:`mia_repro.experiment.profiles` (which defines them as configs of
#: this module's types, so this module cannot import it); :meth:`ExperimentConfig.base` looks a profile up here
PROFILES: dict[str, "ExperimentConfig"] = {}

SCHEDULER_RE = re.compile(r"local|(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}")


#: the sweep's largest L2 strength, rounding decimals and DP-SGD target ε
MAX_L2, MAX_DECIMALS, MAX_EPSILON = 1.0, 8, 1000.0


@dataclass(frozen=True)
class MitigationConfig:
    """The mitigation sweep: regularized targets and output-side defenses.

    ``sizes``: sizes whose target is retrained for every L2 / dropout strength
    (the *unaware* attacker reuses the Stage II attack models).
    ``aware_sizes`` / ``aware_defenses``: where the *aware* attacker retrains
    ``aware_shadows`` shadows with the target's regularization (costly).
    Output-side defenses (top-k, rounding, temperature) need no retraining and
    run at every size in ``sizes`` for both scenarios.
    """

    sizes: tuple[int, ...] = (2500, 5000, 10000, 15000)
    l2_strengths: tuple[float, ...] = (0.0, 1e-4, 1e-3, 5e-3, 1e-2)
    dropout_rates: tuple[float, ...] = (0.0, 0.25, 0.5)
    topk: tuple[int, ...] = (1, 3)
    rounding_decimals: tuple[int, ...] = (1, 2, 3)
    temperatures: tuple[float, ...] = (2.0, 5.0, 20.0)
    aware_sizes: tuple[int, ...] = (2500, 5000, 10000, 15000)
    aware_defenses: tuple[str, ...] = ("l2", "dropout")
    aware_shadows: int = 10
    #: DP-SGD targets (defense "dp", strength = target ε; :class:`DPConfig` of ``dp_clip_norm``, ``dp_delta``,
    #: ``dp_optimizer``), retrained at every size in ``sizes``; with ``dp_aware`` the aware attacker's shadows
    #: at ``aware_sizes`` are trained with the same DP-SGD settings
    dp_epsilons: tuple[float, ...] = ()
    dp_clip_norm: float = 1.0
    dp_delta: float = 1e-5
    dp_optimizer: str = "adam"
    dp_aware: bool = True
    #: the DP noise's seed (:class:`DPConfig`'s ``noise_seed``): "secret" by default, as the guarantee assumes;
    #: the profiles use "model" (reproducible from the config's seed, which is public)
    dp_noise_seed: int | str = "secret"

    def __post_init__(self):
        mi = self
        positive_ints("mitigation.sizes", mi.sizes, allow_empty=True)
        positive_ints("mitigation.aware_sizes", mi.aware_sizes, allow_empty=True)
        positive_numbers("mitigation.l2_strengths", mi.l2_strengths, allow_zero=True)
        need(all(math.isfinite(s) and s <= MAX_L2 for s in mi.l2_strengths), "mitigation.l2_strengths",
             f"every strength must be at most {MAX_L2:g} (a larger penalty drives every weight to 0 and overflows "
             f"the loss)", mi.l2_strengths)
        positive_numbers("mitigation.dropout_rates", mi.dropout_rates, allow_zero=True)
        need(all(r < 1 for r in mi.dropout_rates), "mitigation.dropout_rates", "every rate must be below 1",
             mi.dropout_rates)
        positive_ints("mitigation.topk", mi.topk, allow_empty=True)
        need(isinstance(mi.rounding_decimals, tuple) and all(is_int(d) and 0 <= d <= MAX_DECIMALS
                                                             for d in mi.rounding_decimals),
             "mitigation.rounding_decimals", f"expected integers from 0 to {MAX_DECIMALS} (float32 probabilities "
             f"hold no more decimals; below 0 rounds to tens)", mi.rounding_decimals)
        if mi.temperatures:
            positive_numbers("mitigation.temperatures", mi.temperatures)
            need(all(math.isfinite(t) for t in mi.temperatures), "mitigation.temperatures",
                 "every temperature must be finite", mi.temperatures)
        need(isinstance(mi.dp_epsilons, tuple) and all(is_number(e) and 0 < e <= MAX_EPSILON for e in mi.dp_epsilons),
             "mitigation.dp_epsilons", f"expected a tuple of positive numbers up to {MAX_EPSILON:g} (beyond it the "
             f"noise cannot be calibrated; for no privacy, the undefended target is the sweep's first row)",
             mi.dp_epsilons)
        for name in ("l2_strengths", "dropout_rates", "topk", "rounding_decimals", "temperatures", "dp_epsilons"):
            values = getattr(mi, name)
            need(len(set(values)) == len(values), f"mitigation.{name}", "each value once (a repeat would publish "
                 "its rows twice)", values)
        need(isinstance(mi.dp_aware, bool), "mitigation.dp_aware", "expected True or False", mi.dp_aware)
        if mi.dp_epsilons:  # the DPConfig each setting will use, validated now rather than mid-sweep
            try:
                DPConfig(target_epsilon=mi.dp_epsilons[0], clip_norm=mi.dp_clip_norm, delta=mi.dp_delta,
                         optimizer=mi.dp_optimizer, noise_seed=mi.dp_noise_seed)
            except ConfigError as exc:  # named as the mitigation field the user set
                raise ConfigError("mitigation." + str(exc).replace("dp.", "dp_", 1)) from None
        need(is_int(mi.aware_shadows) and mi.aware_shadows >= 1, "mitigation.aware_shadows",
             "expected an integer >= 1", mi.aware_shadows)


@dataclass(frozen=True)
class OutputsConfig:
    """What Stage I keeps beyond the softmax vectors, for the reference-model attacks.

    ``population_size``: records of the seeded population sample (drawn from
    the shadow pool, never target data) on which every model's logits are kept
    (RMIA).  ``augmentations``: the queries of the label-only augmentation
    attack, each ``"hflip"`` or ``"shift:DX:DY"`` (pixels, zero fill; see
    :mod:`mia_repro.data.augment`).
    """

    population_size: int = 5000
    augmentations: tuple[str, ...] = ("hflip", "shift:2:0", "shift:0:2")

    def __post_init__(self):
        need(is_int(self.population_size) and self.population_size >= 1, "outputs.population_size",
             "expected an integer >= 1", self.population_size)
        need(isinstance(self.augmentations, tuple), "outputs.augmentations", "expected a tuple of names",
             self.augmentations)
        for name in self.augmentations:
            try:
                parse_augmentation(name)
            except ValueError as exc:
                raise ConfigError(f"outputs.augmentations: {exc}") from None


@dataclass(frozen=True)
class PoolConfig:
    """The reference-pool experiment (:mod:`mia_repro.experiment.stages.pool`; Carlini et al., S&P 2022, Sec. VI).

    ``size``: n; the pool holds 2n records and each of ``n_models`` models trains on a seeded random half
    of it (the paper's CNN and training).  ``population_size``: records outside the pool, never trained
    on, on which every model's logits are kept (RMIA's population).  ``n_targets``: pool models that play
    the target in turn (leave-one-out: the other ``n_models - 1`` are its references).
    ``reference_counts``: the numbers of references of the power curve (``n_models - 1`` is always
    added; larger counts are left out).  ``sim_targets``: reference models that play the target in the
    attacker's simulation (thresholds, RMIA's parameters).  ``svm_shadows``: reference models used as
    Shokri's shadows (the SVMs are fit once on models that are never a target).  ``fpr_levels``: the
    false-positive rates at which the attacker sets its thresholds on the references (reproducibility,
    precision).  ``priors``: the membership priors of the precision table.
    """

    size: int = 2500
    n_models: int = 64
    n_targets: int = 8
    population_size: int = 5000
    reference_counts: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    sim_targets: int = 16
    svm_shadows: int = 10
    fpr_levels: tuple[float, ...] = (0.001, 0.01)
    priors: tuple[float, ...] = (0.5, 0.1, 0.01, 0.001)

    def __post_init__(self):
        need(is_int(self.size) and self.size >= 1, "pool.size", "expected an integer >= 1", self.size)
        need(is_int(self.n_models) and self.n_models >= 2, "pool.n_models",
             "expected an integer >= 2 (a target and at least one reference)", self.n_models)
        need(is_int(self.n_targets) and 1 <= self.n_targets <= self.n_models, "pool.n_targets",
             f"expected an integer in 1..n_models ({self.n_models})", self.n_targets)
        need(is_int(self.population_size) and self.population_size >= 1, "pool.population_size",
             "expected an integer >= 1", self.population_size)
        positive_ints("pool.reference_counts", self.reference_counts)
        need(is_int(self.sim_targets) and self.sim_targets >= 2, "pool.sim_targets", "expected an integer >= 2",
             self.sim_targets)
        need(is_int(self.svm_shadows) and self.svm_shadows >= 1, "pool.svm_shadows", "expected an integer >= 1",
             self.svm_shadows)
        need(self.n_models - self.n_targets >= 1, "pool.n_targets",
             f"at most n_models - 1 ({self.n_models - 1}): Shokri's shadows are pool models that are never a "
             f"target", self.n_targets)
        need(self.n_models >= 3, "pool.n_models", "expected at least 3 (the attacker's simulation needs two "
             "references besides the target)", self.n_models)
        need(isinstance(self.fpr_levels, tuple) and len(self.fpr_levels) > 0
             and all(is_number(f) and 0 < f < 1 for f in self.fpr_levels), "pool.fpr_levels",
             "expected a non-empty tuple of rates in (0, 1) (0.001 for 0.1%)", self.fpr_levels)
        need(isinstance(self.priors, tuple) and len(self.priors) > 0
             and all(is_number(f) and 0 < f < 1 for f in self.priors), "pool.priors",
             "expected a non-empty tuple of membership priors in (0, 1) (0.01 for 1%)", self.priors)

    @property
    def curve_counts(self) -> tuple[int, ...]:
        """The power curve's reference counts: ``reference_counts`` up to ``n_models - 1``, and that."""
        top = self.n_models - 1
        return tuple(sorted({c for c in self.reference_counts if c < top} | {top}))


@dataclass(frozen=True)
class AuditConfig:
    """The one-run canary audit (:mod:`mia_repro.experiment.stages.canary_audit`; Steinke, Nasr, Jagielski 2023).

    At ``size`` n (the Shokri target's members) one DP-SGD model per target ε in ``epsilons``, one with
    σ = 0 (clipping, no noise: ε = ∞), and one per broken trainer of ``broken`` (claiming
    ``broken_epsilon``), each with ``canaries`` white-box gradient canaries and ``blackbox_canaries``
    mislabelled CIFAR-10 records (each included with probability 1/2, as the audit's theorem requires), the
    mitigation's clip norm, δ and optimizer.  ``confidence``: of
    every bound.  ``noise_seed``: the DP noise's seed (see :class:`DPConfig`); each model has its own
    training seed, so with "model" each its own (public) noise stream.  ``ceiling_trials``: the simulated
    ideal runs behind each row's ceiling (:func:`mia_repro.privacy.ceiling.ideal_ceiling`).
    """

    size: int = 2500
    epsilons: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    canaries: int = 1000
    blackbox_canaries: int = 1000
    broken: tuple[str, ...] = ("no_noise", "no_clipping", "realized_batch")
    broken_epsilon: float = 2.0  # below the ceiling of m = 1,000 canaries (all guesses right proves at most ~4.5)
    confidence: float = 0.95
    noise_seed: int | str = "secret"
    ceiling_trials: int = 100

    def __post_init__(self):
        from mia_repro.models.config import BROKEN_TRAINERS

        need(is_int(self.size) and self.size >= 1, "audit.size", "expected an integer >= 1", self.size)
        need(isinstance(self.epsilons, tuple) and all(is_number(e) and 0 < e < math.inf for e in self.epsilons),
             "audit.epsilons", "expected a tuple of positive finite numbers", self.epsilons)
        need(is_int(self.canaries) and 1 <= self.canaries <= self.size, "audit.canaries",
             f"expected an integer in 1..size ({self.size}): the canaries are part of a training set of that size",
             self.canaries)
        need(is_int(self.blackbox_canaries) and 0 <= self.blackbox_canaries <= self.size, "audit.blackbox_canaries",
             f"expected an integer in 0..size ({self.size}): at most as many canaries as training records",
             self.blackbox_canaries)
        need(isinstance(self.broken, tuple) and all(b in BROKEN_TRAINERS for b in self.broken), "audit.broken",
             f"expected a tuple of {', '.join(BROKEN_TRAINERS)}", self.broken)
        need(is_number(self.broken_epsilon) and 0 < self.broken_epsilon < math.inf, "audit.broken_epsilon",
             "expected a positive finite number", self.broken_epsilon)
        need(is_number(self.confidence) and 0 < self.confidence < 1, "audit.confidence",
             "expected a number in (0, 1) (0.95 for 95%)", self.confidence)
        need(is_int(self.ceiling_trials) and 10 <= self.ceiling_trials <= 10_000, "audit.ceiling_trials",
             "expected an integer in 10..10000 (the simulated runs behind a median and a 10-90% band)",
             self.ceiling_trials)
        try:
            DPConfig(noise_multiplier=1.0, noise_seed=self.noise_seed)  # the trainer's own check
        except ConfigError as exc:
            raise ConfigError("audit." + str(exc).replace("dp.", "", 1)) from None

@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one run of the experiment depends on.

    ``sizes``: training-set sizes n (target members = n, non-members = n).
    ``trainer``: "auto" (stacked multi-model graph on GPU jax/torch, one model
    at a time otherwise), "stacked" or "sequential".  ``steps_per_execution``:
    training steps per call into the backend (None: the trainer's default,
    :func:`mia_repro.training.default_steps_per_execution`); like ``trainer``
    it changes speed, not results, so cache keys leave it out.

    Where models train (:mod:`mia_repro.training.executor`; no cache key holds these either):
    ``workers`` parallel models (None: cores // ``threads_per_model``); ``scheduler`` None (local
    processes), ``"local"`` (a Dask ``LocalCluster``) or a Dask scheduler address
    (``tcp://host:8786``); ``threads_per_model`` the backend's CPU threads per model (2 trained the
    committed caches; a model's bits depend on it, so each file records it); ``worker_wait`` the seconds a
    Dask cluster may have no worker before the run stops.

    ``attacks``: the attacks the comparison stage runs (names of :data:`mia_repro.attacks.ATTACKS`); ``()``
    runs every one (:attr:`compared_attacks`).
    """

    profile: str = "custom"
    sizes: tuple[int, ...] = (2500, 5000, 10000, 15000)
    n_shadows: int = 10
    seed: int = 0
    data_path: str | None = None
    results_dir: str | None = None
    stage1_dir: str | None = None
    max_records: int | None = None
    trainer: str = "auto"
    steps_per_execution: int | None = None
    deterministic: bool = True
    workers: int | None = None
    scheduler: str | None = None
    threads_per_model: int = 2
    worker_wait: float = 120.0
    model: ModelConfig = field(default_factory=ModelConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    mitigation: MitigationConfig = field(default_factory=MitigationConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    attacks: tuple[str, ...] = field(default=(), metadata={"key_omit_if": ()})

    def __post_init__(self):
        validate(self)

    #: fields that change where and how a run computes, not what it computes: left out of :meth:`changed_fields`
    NOT_RESULTS = ("profile", "data_path", "results_dir", "stage1_dir", "steps_per_execution", "workers", "scheduler",
                   "threads_per_model", "worker_wait")

    def base(self) -> "ExperimentConfig | None":
        """The named profile this config derives from (:data:`PROFILES`), None for a name that is no profile."""
        return PROFILES.get(self.profile)

    def changed_fields(self) -> tuple[str, ...]:
        """The fields whose value differs from the named profile's (none for a name that is no profile),
        leaving out :data:`NOT_RESULTS`: what makes this run's results other than the committed ones."""
        base = self.base()
        if base is None:
            return ()
        names = [f.name for f in dataclasses.fields(self) if f.name not in self.NOT_RESULTS]
        return tuple(n for n in names if plain(getattr(self, n)) != plain(getattr(base, n)))

    @property
    def layout(self):
        """Where this run reads and writes (:class:`~mia_repro.experiment.layout.Layout`)."""
        from mia_repro.experiment.layout import Layout

        return Layout.of(self)

    @property
    def output_dir(self) -> Path:
        """This run's results folder (:attr:`Layout.output_dir <mia_repro.experiment.layout.Layout.output_dir>`)."""
        return self.layout.output_dir

    @property
    def compared_attacks(self) -> tuple[str, ...]:
        """The comparison's attacks: those of :data:`mia_repro.attacks.ATTACKS` named in ``attacks`` (all of them
        when it is empty) in that order, then any other registered offline attack it names, in its order."""
        from mia_repro.attacks import ATTACKS

        return (tuple(a for a in ATTACKS if not self.attacks or a in self.attacks)
                + tuple(a for a in self.attacks if a not in ATTACKS))

    @property
    def n_records(self) -> int:
        """How many pooled CIFAR-10 records the experiment draws from (all of them unless ``max_records``)."""
        return N_POOLED if self.max_records is None else min(N_POOLED, self.max_records)


def validate(cfg: "ExperimentConfig") -> None:
    """Check every field of ``cfg``; raise :class:`ConfigError` naming the first bad one.

    Called when an :class:`ExperimentConfig` is made (also by
    ``dataclasses.replace``), so no stage ever starts on a config that cannot run.
    """
    need(isinstance(cfg.profile, str) and cfg.profile != "", "profile", "expected a non-empty name", cfg.profile)
    positive_ints("sizes", cfg.sizes)
    need(is_int(cfg.n_shadows) and cfg.n_shadows >= 1, "n_shadows", "expected an integer >= 1", cfg.n_shadows)
    need(is_int(cfg.seed) and 0 <= cfg.seed <= MAX_SEED, "seed", f"expected an integer in 0..{MAX_SEED}", cfg.seed)
    for name, kind in (("model", ModelConfig), ("attack", AttackConfig), ("mitigation", MitigationConfig),
                       ("outputs", OutputsConfig), ("pool", PoolConfig), ("audit", AuditConfig)):
        need(isinstance(getattr(cfg, name), kind), name, f"expected a {kind.__name__}", getattr(cfg, name))
    need(cfg.max_records is None or (is_int(cfg.max_records) and 0 < cfg.max_records), "max_records",
          "expected a positive integer or None", cfg.max_records)
    need(cfg.trainer in ("auto", "stacked", "sequential"), "trainer", "expected auto, stacked or sequential", cfg.trainer)
    need(cfg.steps_per_execution is None or (is_int(cfg.steps_per_execution) and cfg.steps_per_execution >= 1),
          "steps_per_execution", "expected an integer >= 1 or None", cfg.steps_per_execution)
    need(isinstance(cfg.deterministic, bool), "deterministic", "expected True or False", cfg.deterministic)
    need(cfg.workers is None or (is_int(cfg.workers) and 1 <= cfg.workers <= MAX_WORKERS), "workers",
          f"expected an integer in 1..{MAX_WORKERS} or None (one per core // threads_per_model)", cfg.workers)
    need(cfg.scheduler is None or (isinstance(cfg.scheduler, str) and SCHEDULER_RE.fullmatch(cfg.scheduler) is not None),
          "scheduler", "expected 'local' or a Dask scheduler address such as tcp://host:8786", cfg.scheduler)
    need(is_int(cfg.threads_per_model) and 1 <= cfg.threads_per_model <= 256, "threads_per_model",
          "expected an integer in 1..256", cfg.threads_per_model)
    need(is_number(cfg.worker_wait) and 0 < cfg.worker_wait < math.inf, "worker_wait",
         "expected a positive number of seconds", cfg.worker_wait)
    for name in ("data_path", "results_dir", "stage1_dir"):
        v = getattr(cfg, name)
        need(v is None or (isinstance(v, (str, Path)) and str(v).strip() != ""), name,
              "expected a non-empty path or None", v)
    from mia_repro.attacks import ONLINE_ATTACKS, registry

    offline = [a for a in registry.names() if a not in ONLINE_ATTACKS]
    need(isinstance(cfg.attacks, tuple) and all(isinstance(a, str) and a in offline for a in cfg.attacks)
         and len(set(cfg.attacks)) == len(cfg.attacks), "attacks",
         f"expected distinct names among the registered offline attacks {', '.join(offline)} (none: every one "
         f"of mia_repro.attacks.ATTACKS; an attack of your own: register it first)", cfg.attacks)
    n_total = cfg.n_records
    biggest = max(cfg.sizes)
    need(4 * biggest <= n_total, "sizes", f"each size n needs 4n records (target 2n, shadow pool >= 2n); "
          f"with {n_total} records n must be at most {n_total // 4}", cfg.sizes)
    mi = cfg.mitigation
    need(all(k <= cfg.model.num_classes for k in mi.topk), "mitigation.topk", f"every k must be at most {cfg.model.num_classes}", mi.topk)
    need(is_int(mi.aware_shadows) and 1 <= mi.aware_shadows <= cfg.n_shadows, "mitigation.aware_shadows",
          f"expected an integer in 1..n_shadows ({cfg.n_shadows})", mi.aware_shadows)
    smallest_dp = min([*(mi.sizes if mi.dp_epsilons else ()), cfg.audit.size])
    need(mi.dp_delta < 1 / smallest_dp, "mitigation.dp_delta", delta_problem(smallest_dp), mi.dp_delta)
    o = cfg.outputs
    pool = n_total - 2 * biggest
    need(o.population_size <= pool, "outputs.population_size",
          f"expected an integer in 1..{pool} (the shadow pool at n = {biggest})", o.population_size)
    rp = cfg.pool
    need(2 * rp.size + rp.population_size <= n_total, "pool.size",
         f"the pool's 2n records and its population sample ({rp.population_size}) must fit in the {n_total} "
         f"records: n at most {(n_total - rp.population_size) // 2}", rp.size)
