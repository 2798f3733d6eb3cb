"""One typed configuration object per experiment, with named profiles.

``ExperimentConfig`` holds everything that changes a result: the model and its
training (``ModelConfig``), the attack (``AttackConfig``) and the mitigation
sweep (``MitigationConfig``).  ``get_config("quick")`` returns a profile;
``dataclasses.replace`` (or ``get_config(name, **overrides)``) derives variants.

Cache keys are hashes of the fields that influence a stage's output
(:func:`config_key`), so a changed field never reuses a stale cache entry.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from .errors import MiaReproInputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_WORKERS = 1024
MAX_SEED = 2**32 - 1  # what numpy's and every backend's seeding accepts
# "local", or a Dask address: scheme://host:port (tcp, tls, inproc, ucx, ws, wss) or host:port
SCHEDULER_RE = re.compile(r"local|(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}")


class ConfigError(MiaReproInputError):
    """A configuration that cannot run (unknown profile, bad field); the message names the field."""


DP_OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class DPConfig:
    """DP-SGD (Abadi et al., CCS 2016) for the CNN: each step samples every member with probability
    q = batch_size / n (Poisson), clips each example's gradient to L2 norm ``clip_norm``, adds Gaussian
    noise of standard deviation ``noise_multiplier * clip_norm`` to their sum and divides by the expected
    batch size; ``optimizer`` ("adam" or "sgd", at the model's learning rate) applies the result.

    Give ``target_epsilon`` (σ is then calibrated with ``dp-accounting``'s RDP accountant for the
    schedule, :func:`mia_repro.privacy.schedule_for`) or ``noise_multiplier``, not both; ``delta`` is the δ
    of (ε, δ)-DP.  Validated when made (:class:`ConfigError` naming the field).
    """

    target_epsilon: float | None = None
    noise_multiplier: float | None = None
    clip_norm: float = 1.0
    delta: float = 1e-5
    optimizer: str = "adam"

    def __post_init__(self):
        _need((self.target_epsilon is None) != (self.noise_multiplier is None), "dp",
              "give exactly one of target_epsilon and noise_multiplier", (self.target_epsilon, self.noise_multiplier))
        if self.target_epsilon is not None:
            _need(_is_number(self.target_epsilon) and 0 < self.target_epsilon < math.inf, "dp.target_epsilon",
                  "expected a positive finite number", self.target_epsilon)
        if self.noise_multiplier is not None:
            _need(_is_number(self.noise_multiplier) and 0 <= self.noise_multiplier < math.inf, "dp.noise_multiplier",
                  "expected a number >= 0", self.noise_multiplier)
        _need(_is_number(self.clip_norm) and self.clip_norm > 0, "dp.clip_norm", "expected a positive number (inf: no "
              "clipping)", self.clip_norm)
        _need(math.isfinite(self.clip_norm) or self.noise_multiplier == 0, "dp.clip_norm",
              "inf (no clipping) only with noise_multiplier 0: the noise's standard deviation is sigma x C", self.clip_norm)
        _need(_is_number(self.delta) and 0 < self.delta < 1, "dp.delta", "expected a number in (0, 1)", self.delta)
        _need(self.optimizer in DP_OPTIMIZERS, "dp.optimizer", f"expected one of {', '.join(DP_OPTIMIZERS)}",
              self.optimizer)


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


@dataclass(frozen=True)
class AttackConfig:
    """Stage II: one RBF SVM per class, C and gamma chosen jointly by k-fold CV.

    The default grid is wider than the seed reproduction's
    (C in {0.1, 1, 10}, gamma in {0.001, 0.01, 0.1}), whose best point sat on
    the corner for every class; the summary reports any best point that is
    still on the edge of the grid.  ``cv_samples`` / ``fit_samples`` bound the
    records (per class, stratified, seeded) used for the grid search and for
    the final fit: an exact RBF SVM on 30,000 records per class takes hours.
    """

    C_grid: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    gamma_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    cv_folds: int = 5
    cv_samples: int = 1000
    fit_samples: int = 4000
    n_jobs: int = -1
    #: the untuned variant ``shokri_svm_fixed``: scikit-learn's SVC defaults of 2017 (C = 1, gamma = 'auto' =
    #: 1 / n_features = 0.1 on 10-class softmax vectors), what a reader of the paper would have run
    fixed_C: float = 1.0
    fixed_gamma: float = 0.1


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


@dataclass(frozen=True)
class OutputsConfig:
    """What Stage I keeps beyond the softmax vectors, for the reference-model attacks.

    ``population_size``: records of the seeded population sample (drawn from
    the shadow pool, never target data) on which every model's logits are kept
    (RMIA).  ``augmentations``: the queries of the label-only augmentation
    attack, each ``"hflip"`` or ``"shift:DX:DY"`` (pixels, zero fill; see
    :mod:`mia_repro.augment`).
    """

    population_size: int = 5000
    augmentations: tuple[str, ...] = ("hflip", "shift:2:0", "shift:0:2")


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
    committed caches; a model's bits depend on it, so each file records it).
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
    model: ModelConfig = field(default_factory=ModelConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    mitigation: MitigationConfig = field(default_factory=MitigationConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)

    def __post_init__(self):
        validate(self)

    #: fields that change where and how a run computes, not what it computes: left out of :meth:`changed_fields`
    NOT_RESULTS = ("profile", "data_path", "results_dir", "stage1_dir", "steps_per_execution", "workers", "scheduler",
                   "threads_per_model")

    def changed_fields(self) -> tuple[str, ...]:
        """The fields whose value differs from the named profile's (every field for a name that is no profile),
        leaving out :data:`NOT_RESULTS`: what makes this run's results other than the committed ones."""
        base = PROFILES.get(self.profile)
        names = [f.name for f in dataclasses.fields(self) if f.name not in self.NOT_RESULTS]
        if base is None:
            return ()
        return tuple(n for n in names if _plain(getattr(self, n)) != _plain(getattr(base, n)))

    @property
    def profile_dir(self) -> Path:
        """``results/<profile>/``: the named profile's own results (committed for quick and paper)."""
        return PROJECT_ROOT / "results" / self.profile

    @property
    def output_dir(self) -> Path:
        """Where this run's results go: ``results_dir`` when set; else ``results/<profile>/`` for the profile as
        it is, and ``results/<profile>-<key>/`` for one whose :meth:`changed_fields` are not empty (the key
        hashes their values), so that no other config overwrites a profile's committed results."""
        if self.results_dir is not None:
            return Path(self.results_dir)
        changed = self.changed_fields()
        if not changed:
            return self.profile_dir
        key = config_key(*[(n, _plain(getattr(self, n))) for n in changed])
        return self.profile_dir.parent / f"{self.profile}-{key}"

    @property
    def seeds_dir(self) -> Path:
        """Where ``--seeds`` runs go: ``<output_dir>/seeds``, except that a profile run on some of its sizes
        only (``--sizes 2500``) keeps the profile's own ``results/<profile>/seeds`` (the spread beside the
        profile's headlines)."""
        changed = set(self.changed_fields()) - {"mitigation"}  # seeds run no mitigation
        base = PROFILES.get(self.profile)
        if self.results_dir is None and changed <= {"sizes"} and set(self.sizes) <= set(base.sizes):
            return self.profile_dir / "seeds"
        return self.output_dir / "seeds"

    @property
    def execution(self):
        """The :class:`~mia_repro.training.executor.Execution` of ``workers``, ``scheduler``, ``threads_per_model``."""
        from .training.executor import Execution

        return Execution(self.workers, self.scheduler, self.threads_per_model)

    @property
    def stage1_root(self) -> Path:
        """Where Stage I's per-model files live: ``stage1_dir`` when set (several seeds' runs share one; file keys
        include the seed), else ``<results_dir>/stage1``, else the profile's ``results/<profile>/stage1`` --
        shared by every config of the profile: each model's file is keyed by all it depends on, so another
        config adds files there and never replaces one."""
        if self.stage1_dir is not None:
            return Path(self.stage1_dir)
        return (Path(self.results_dir) if self.results_dir is not None else self.profile_dir) / "stage1"






def get_config(profile: str, **overrides: Any) -> ExperimentConfig:
    """Return the named profile, with top-level fields replaced by ``overrides``.

    ``overrides`` with value ``None`` are ignored, so CLI defaults pass through;
    ``epochs`` replaces ``model.epochs``.  Raises :class:`ConfigError` naming the
    known profiles for an unknown name, or the field for a bad value.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    cfg = PROFILES[profile]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "sizes" in overrides:
        sizes = overrides["sizes"]
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple)):
            raise ConfigError(f"sizes: expected a list of integers, got {sizes!r}")
        overrides["sizes"] = tuple(sizes)
    if "epochs" in overrides:
        overrides["model"] = dataclasses.replace(cfg.model, epochs=overrides.pop("epochs"))
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(ExperimentConfig)})
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a field of ExperimentConfig")
    if "mitigation" not in overrides and ("sizes" in overrides or "n_shadows" in overrides):
        overrides["mitigation"] = _mitigation_within(cfg.mitigation, overrides.get("sizes", cfg.sizes),
                                                     overrides.get("n_shadows", cfg.n_shadows))
    return dataclasses.replace(cfg, **overrides)


def _mitigation_within(m: "MitigationConfig", sizes: Any, n_shadows: Any) -> "MitigationConfig":
    """The profile's mitigation sweep adjusted to overridden ``sizes`` / ``n_shadows`` (its sizes kept only where
    they are still trained, its aware shadows at most ``n_shadows``), so that a field the user never set cannot
    make the config invalid.  Bad values are left for :func:`validate` to name."""
    if not (isinstance(sizes, tuple) and _is_int(n_shadows) and n_shadows >= 1):
        return m
    return dataclasses.replace(m, sizes=tuple(n for n in m.sizes if n in sizes),
                               aware_sizes=tuple(n for n in m.aware_sizes if n in sizes),
                               aware_shadows=min(m.aware_shadows, n_shadows))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _need(ok: bool, field_name: str, problem: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{field_name}: {problem}, got {value!r}")


def _positive_ints(name: str, values: Any, allow_empty: bool = False) -> None:
    _need(isinstance(values, tuple) and (allow_empty or len(values) > 0), name, "expected a non-empty tuple", values)
    for v in values:
        _need(_is_int(v) and v > 0, name, "every entry must be a positive integer", values)


def _positive_numbers(name: str, values: Any, allow_zero: bool = False) -> None:
    _need(isinstance(values, tuple) and len(values) > 0, name, "expected a non-empty tuple", values)
    for v in values:
        _need(_is_number(v) and (v >= 0 if allow_zero else v > 0), name,
              "every entry must be a " + ("non-negative" if allow_zero else "positive") + " number", values)


def validate(cfg: "ExperimentConfig") -> None:
    """Check every field of ``cfg``; raise :class:`ConfigError` naming the first bad one.

    Called when an :class:`ExperimentConfig` is made (also by
    ``dataclasses.replace``), so no stage ever starts on a config that cannot run.
    """
    from .augment import parse_augmentation  # late: augment imports nothing from here

    _need(isinstance(cfg.profile, str) and cfg.profile != "", "profile", "expected a non-empty name", cfg.profile)
    _positive_ints("sizes", cfg.sizes)
    _need(_is_int(cfg.n_shadows) and cfg.n_shadows >= 1, "n_shadows", "expected an integer >= 1", cfg.n_shadows)
    _need(_is_int(cfg.seed) and 0 <= cfg.seed <= MAX_SEED, "seed", f"expected an integer in 0..{MAX_SEED}", cfg.seed)
    for name, kind in (("model", ModelConfig), ("attack", AttackConfig), ("mitigation", MitigationConfig),
                       ("outputs", OutputsConfig)):
        _need(isinstance(getattr(cfg, name), kind), name, f"expected a {kind.__name__}", getattr(cfg, name))
    _need(cfg.max_records is None or (_is_int(cfg.max_records) and 0 < cfg.max_records), "max_records",
          "expected a positive integer or None", cfg.max_records)
    _need(cfg.trainer in ("auto", "stacked", "sequential"), "trainer", "expected auto, stacked or sequential", cfg.trainer)
    _need(cfg.steps_per_execution is None or (_is_int(cfg.steps_per_execution) and cfg.steps_per_execution >= 1),
          "steps_per_execution", "expected an integer >= 1 or None", cfg.steps_per_execution)
    _need(isinstance(cfg.deterministic, bool), "deterministic", "expected True or False", cfg.deterministic)
    _need(cfg.workers is None or (_is_int(cfg.workers) and 1 <= cfg.workers <= MAX_WORKERS), "workers",
          f"expected an integer in 1..{MAX_WORKERS} or None (one per core // threads_per_model)", cfg.workers)
    _need(cfg.scheduler is None or (isinstance(cfg.scheduler, str) and SCHEDULER_RE.fullmatch(cfg.scheduler) is not None),
          "scheduler", "expected 'local' or a Dask scheduler address such as tcp://host:8786", cfg.scheduler)
    _need(_is_int(cfg.threads_per_model) and 1 <= cfg.threads_per_model <= 256, "threads_per_model",
          "expected an integer in 1..256", cfg.threads_per_model)
    for name in ("data_path", "results_dir", "stage1_dir"):
        v = getattr(cfg, name)
        _need(v is None or (isinstance(v, (str, Path)) and str(v).strip() != ""), name,
              "expected a non-empty path or None", v)
    n_total = 60000 if cfg.max_records is None else min(60000, cfg.max_records)
    biggest = max(cfg.sizes)
    _need(4 * biggest <= n_total, "sizes", f"each size n needs 4n records (target 2n, shadow pool >= 2n); "
          f"with {n_total} records n must be at most {n_total // 4}", cfg.sizes)
    m = cfg.model
    _need(_is_int(m.epochs) and m.epochs >= 1, "model.epochs", "expected an integer >= 1", m.epochs)
    _need(_is_int(m.batch_size) and m.batch_size >= 1, "model.batch_size", "expected an integer >= 1", m.batch_size)
    _need(_is_number(m.learning_rate) and m.learning_rate > 0, "model.learning_rate", "expected a positive number", m.learning_rate)
    _need(_is_number(m.l2) and m.l2 >= 0, "model.l2", "expected a number >= 0", m.l2)
    _need(_is_number(m.dropout) and 0 <= m.dropout < 1, "model.dropout", "expected a number in [0, 1)", m.dropout)
    _need(_is_int(m.num_classes) and m.num_classes >= 2, "model.num_classes", "expected an integer >= 2", m.num_classes)
    _need(m.dp is None or isinstance(m.dp, DPConfig), "model.dp", "expected a DPConfig or None", m.dp)
    if m.dp is not None:
        _need(m.l2 == 0 and m.dropout == 0, "model.dp", "DP-SGD trains the plain CNN: set l2 and dropout to 0",
              (m.l2, m.dropout))
    _positive_ints("model.conv_filters", m.conv_filters)
    _positive_ints("model.conv_kernels", m.conv_kernels)
    a = cfg.attack
    _positive_numbers("attack.C_grid", a.C_grid)
    _positive_numbers("attack.gamma_grid", a.gamma_grid)
    for name in ("fixed_C", "fixed_gamma"):
        v = getattr(a, name)
        _need(_is_number(v) and v > 0, f"attack.{name}", "expected a positive number", v)
    _need(_is_int(a.cv_folds) and a.cv_folds >= 2, "attack.cv_folds", "expected an integer >= 2", a.cv_folds)
    for name in ("cv_samples", "fit_samples"):
        v = getattr(a, name)
        _need(v is None or (_is_int(v) and v >= 2), f"attack.{name}", "expected an integer >= 2 or None", v)
    mi = cfg.mitigation
    _positive_ints("mitigation.sizes", mi.sizes, allow_empty=True)
    _positive_ints("mitigation.aware_sizes", mi.aware_sizes, allow_empty=True)
    _positive_numbers("mitigation.l2_strengths", mi.l2_strengths, allow_zero=True)
    _positive_numbers("mitigation.dropout_rates", mi.dropout_rates, allow_zero=True)
    _need(all(r < 1 for r in mi.dropout_rates), "mitigation.dropout_rates", "every rate must be below 1", mi.dropout_rates)
    _positive_ints("mitigation.topk", mi.topk, allow_empty=True)
    _need(all(k <= m.num_classes for k in mi.topk), "mitigation.topk", f"every k must be at most {m.num_classes}", mi.topk)
    if mi.temperatures:
        _positive_numbers("mitigation.temperatures", mi.temperatures)
    _need(isinstance(mi.dp_epsilons, tuple) and all(_is_number(e) and 0 < e < math.inf for e in mi.dp_epsilons),
          "mitigation.dp_epsilons", "expected a tuple of positive finite numbers", mi.dp_epsilons)
    _need(isinstance(mi.dp_aware, bool), "mitigation.dp_aware", "expected True or False", mi.dp_aware)
    if mi.dp_epsilons:  # the DPConfig each setting will use, validated now rather than mid-sweep
        try:
            DPConfig(target_epsilon=mi.dp_epsilons[0], clip_norm=mi.dp_clip_norm, delta=mi.dp_delta,
                     optimizer=mi.dp_optimizer)
        except ConfigError as exc:  # named as the mitigation field the user set
            raise ConfigError("mitigation." + str(exc).replace("dp.", "dp_", 1)) from None
    _need(_is_int(mi.aware_shadows) and 1 <= mi.aware_shadows <= cfg.n_shadows, "mitigation.aware_shadows",
          f"expected an integer in 1..n_shadows ({cfg.n_shadows})", mi.aware_shadows)
    o = cfg.outputs
    pool = n_total - 2 * biggest
    _need(_is_int(o.population_size) and 1 <= o.population_size <= pool, "outputs.population_size",
          f"expected an integer in 1..{pool} (the shadow pool at n = {biggest})", o.population_size)
    _need(isinstance(o.augmentations, tuple), "outputs.augmentations", "expected a tuple of names", o.augmentations)
    for name in o.augmentations:
        try:
            parse_augmentation(name)
        except ValueError as exc:
            raise ConfigError(f"outputs.augmentations: {exc}") from None


def _plain(value: Any):
    """A field's value as plain JSON-able data (a nested config as its dict, less the fields cache keys
    omit), for comparing and hashing."""
    return json.loads(json.dumps(_keyed(value), default=str))


def _keyed(obj: Any) -> Any:
    """``obj`` with every dataclass as a dict of the fields cache keys hold (see :func:`_key_omits`)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _keyed(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not _key_omits(obj, f)}
    if isinstance(obj, (list, tuple)):
        return [_keyed(o) for o in obj]
    return obj


def config_key(*parts: Any) -> str:
    """A short stable hash of dataclasses / plain values, used as a cache key.

    >>> config_key(ModelConfig(), 2500) == config_key(ModelConfig(), 2500)
    True
    """
    text = json.dumps([_keyed(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _key_omits(obj: Any, f: dataclasses.Field) -> bool:
    """Whether field ``f`` of ``obj`` is left out of cache keys: it has ``key_omit_if`` metadata and that value
    (a field added later, at its default, keeps older keys valid)."""
    return "key_omit_if" in f.metadata and getattr(obj, f.name) == f.metadata["key_omit_if"]


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


_SMOKE = ExperimentConfig(
    profile="smoke",
    sizes=(200, 400),
    n_shadows=2,
    max_records=2000,
    model=ModelConfig(epochs=2),
    outputs=OutputsConfig(population_size=200),
    attack=AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.1, 1.0), cv_folds=3, cv_samples=200, fit_samples=400),
    mitigation=MitigationConfig(
        sizes=(200,),
        l2_strengths=(0.0, 1e-3),
        dropout_rates=(0.0, 0.5),
        topk=(1,),
        rounding_decimals=(1,),
        temperatures=(5.0,),
        aware_sizes=(200,),
        aware_shadows=2,
        dp_epsilons=(8.0,),
    ),
)

_QUICK = ExperimentConfig(
    profile="quick",
    model=ModelConfig(epochs=10),
    mitigation=MitigationConfig(sizes=(2500, 5000), aware_sizes=(2500,), aware_shadows=5, dp_epsilons=(1.0, 2.0, 4.0, 8.0)),
)

# 100-epoch models give nearly one-hot outputs: on the default grid every class's best point was the
# corner C=1000, gamma=100 (n=2,500); the wider grid moves the attack up (CV accuracy +0.1 to +1.5 points)
# and still ends on the edge for most classes (see the README). C=1e7 did not finish in 10 minutes.
# The paper mitigation sweep is what ran (issue 27): n = 2,500, L2 {1e-3, 5e-3, 1e-2} and dropout {0.25, 0.5}
# retrained at 100 epochs with the aware attacker's 10 shadows each; the output-side defenses at the defaults.
_PAPER = ExperimentConfig(
    profile="paper",
    model=ModelConfig(epochs=100),
    mitigation=MitigationConfig(sizes=(2500,), l2_strengths=(0.0, 1e-3, 5e-3, 1e-2), dropout_rates=(0.0, 0.25, 0.5),
                                aware_sizes=(2500,), aware_shadows=10),
    attack=AttackConfig(C_grid=(0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5), gamma_grid=(0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4)),
)

PROFILES: dict[str, ExperimentConfig] = {c.profile: c for c in (_SMOKE, _QUICK, _PAPER)}
