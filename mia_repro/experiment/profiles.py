"""The named profiles (``smoke``, ``quick``, ``paper``) and :func:`get_config`, which derives a run's config
from one with the user's overrides."""
from __future__ import annotations

import dataclasses
from typing import Any

from mia_repro.base.errors import ConfigError
from mia_repro.experiment import config as _config
from mia_repro.experiment.config import AuditConfig, ExperimentConfig, MitigationConfig, OutputsConfig, PoolConfig
from mia_repro.attacks.config import AttackConfig
from mia_repro.models.config import ModelConfig
from mia_repro.base.validation import is_int


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
    if not (isinstance(sizes, tuple) and is_int(n_shadows) and n_shadows >= 1):
        return m
    return dataclasses.replace(m, sizes=tuple(n for n in m.sizes if n in sizes),
                               aware_sizes=tuple(n for n in m.aware_sizes if n in sizes),
                               aware_shadows=min(m.aware_shadows, n_shadows))


_SMOKE = ExperimentConfig(
    profile="smoke",
    sizes=(200, 400),
    n_shadows=2,
    max_records=2000,
    model=ModelConfig(epochs=2),
    outputs=OutputsConfig(population_size=200),
    pool=PoolConfig(size=200, n_models=6, n_targets=3, population_size=200, reference_counts=(1, 2, 4), sim_targets=3,
                    svm_shadows=2),
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
        dp_noise_seed="model",
    ),
    audit=AuditConfig(size=200, epsilons=(1.0,), canaries=200, blackbox_canaries=200, broken_epsilon=1.0,
                      noise_seed="model"),
)

_QUICK = ExperimentConfig(
    profile="quick",
    model=ModelConfig(epochs=10),
    mitigation=MitigationConfig(sizes=(2500, 5000), aware_sizes=(2500,), aware_shadows=5, dp_epsilons=(1.0, 2.0, 4.0, 8.0),
                                dp_noise_seed="model"),
    pool=PoolConfig(size=2500, n_models=64, n_targets=8),
    audit=AuditConfig(size=2500, noise_seed="model"),
)

# 100-epoch models give nearly one-hot outputs, so the paper profile's SVM grid is wider (7 x 7); the summary
# reports the classes whose best point is still on its edge, with the CV one step beyond.  The paper mitigation
# sweep: n = 2,500, L2 {1e-3, 5e-3, 1e-2} and dropout {0.25, 0.5} retrained at 100 epochs with the aware
# attacker's 10 shadows each; the output-side defenses at the defaults.
_PAPER = ExperimentConfig(
    profile="paper",
    model=ModelConfig(epochs=100),
    mitigation=MitigationConfig(sizes=(2500,), l2_strengths=(0.0, 1e-3, 5e-3, 1e-2), dropout_rates=(0.0, 0.25, 0.5),
                                aware_sizes=(2500,), aware_shadows=10, dp_noise_seed="model"),
    attack=AttackConfig(C_grid=(0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5), gamma_grid=(0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4)),
    pool=PoolConfig(size=2500, n_models=16, n_targets=8, sim_targets=8, svm_shadows=8),
    audit=AuditConfig(size=2500, noise_seed="model"),
)

PROFILES: dict[str, ExperimentConfig] = _config.PROFILES  # the registry the configs look their profile up in
PROFILES.update({c.profile: c for c in (_SMOKE, _QUICK, _PAPER)})


def profile_note(profile: str) -> str | None:
    """The one line a run of ``profile`` prints first, if any: the smoke profile's numbers are noise."""
    if profile == "smoke":
        return ("smoke profile: tiny sizes and 2 epochs, to check that the pipeline runs; its numbers are noise, "
                "not results (use quick or paper, or a config of your own, for conclusions)")
    return None
