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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one run of the experiment depends on.

    ``sizes``: training-set sizes n (target members = n, non-members = n).
    ``trainer``: "auto" (stacked multi-model graph on GPU jax/torch, one model
    at a time otherwise), "stacked" or "sequential".
    """

    profile: str = "custom"
    sizes: tuple[int, ...] = (2500, 5000, 10000, 15000)
    n_shadows: int = 10
    seed: int = 0
    data_path: str | None = None
    results_dir: str | None = None
    max_records: int | None = None
    trainer: str = "auto"
    model: ModelConfig = field(default_factory=ModelConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    mitigation: MitigationConfig = field(default_factory=MitigationConfig)

    @property
    def output_dir(self) -> Path:
        """``results/<profile>/`` (or ``results_dir`` when set)."""
        if self.results_dir is not None:
            return Path(self.results_dir)
        return PROJECT_ROOT / "results" / self.profile


_SMOKE = ExperimentConfig(
    profile="smoke",
    sizes=(200, 400),
    n_shadows=2,
    max_records=2000,
    model=ModelConfig(epochs=2),
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
    ),
)

_QUICK = ExperimentConfig(
    profile="quick",
    model=ModelConfig(epochs=10),
    mitigation=MitigationConfig(sizes=(2500, 5000), aware_sizes=(2500,), aware_shadows=5),
)

_PAPER = ExperimentConfig(profile="paper", model=ModelConfig(epochs=100))

PROFILES: dict[str, ExperimentConfig] = {c.profile: c for c in (_SMOKE, _QUICK, _PAPER)}


class ConfigError(ValueError):
    """A configuration that cannot run (unknown profile, bad field)."""


def get_config(profile: str, **overrides: Any) -> ExperimentConfig:
    """Return the named profile, with top-level fields replaced by ``overrides``.

    ``overrides`` with value ``None`` are ignored, so CLI defaults pass through.
    Raises :class:`ConfigError` naming the known profiles for an unknown name.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    cfg = PROFILES[profile]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "sizes" in overrides:
        overrides["sizes"] = tuple(int(s) for s in overrides["sizes"])
    if "epochs" in overrides:
        overrides["model"] = dataclasses.replace(cfg.model, epochs=int(overrides.pop("epochs")))
    try:
        return dataclasses.replace(cfg, **overrides)
    except TypeError as exc:
        raise ConfigError(f"bad override for profile {profile!r}: {exc}") from None


def config_key(*parts: Any) -> str:
    """A short stable hash of dataclasses / plain values, used as a cache key.

    >>> config_key(ModelConfig(), 2500) == config_key(ModelConfig(), 2500)
    True
    """

    def plain(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, (list, tuple)):
            return [plain(o) for o in obj]
        return obj

    text = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
