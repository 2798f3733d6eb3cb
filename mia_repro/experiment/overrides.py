"""Choosing an experiment without Python: the CLI's sweep flags and ``--config FILE`` (TOML), applied to a
profile's :class:`~mia_repro.experiment.config.ExperimentConfig` and validated like it.

* :func:`with_sweep`: ``--l2``, ``--dropout``, ``--dp-epsilons``, ``--topk``, ``--rounding``, ``--temperatures``
  set the mitigation sweep's strengths; once any is given, the sweep is exactly the defenses given (the
  undefended target always comes first), so ``--l2 1e-3 1e-2`` is an L2-only sweep.
* :func:`with_config_file`: a TOML file of top-level fields and ``[model]``, ``[attack]``, ``[mitigation]``,
  ``[outputs]``, ``[pool]``, ``[audit]`` tables (lists become tuples); an unknown key or a bad value is a
  :class:`~mia_repro.errors.ConfigError` naming the file and the field.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mia_repro.errors import ConfigError
from mia_repro.experiment.config import ExperimentConfig

#: CLI flag (argparse dest) -> the MitigationConfig field it sets
SWEEP_FIELDS = {"l2": "l2_strengths", "dropout": "dropout_rates", "dp_epsilons": "dp_epsilons", "topk": "topk",
                "rounding": "rounding_decimals", "temperatures": "temperatures"}
SECTIONS = ("model", "attack", "mitigation", "outputs", "pool", "audit")


def with_sweep(cfg: ExperimentConfig, **flags: Any) -> ExperimentConfig:
    """``cfg`` with the mitigation sweep of the given flags (None: not given); unchanged when none is given."""
    given = {SWEEP_FIELDS[k]: tuple(v) for k, v in flags.items() if v is not None}
    if not given:
        return cfg
    sweep = {f: () for f in SWEEP_FIELDS.values()}
    sweep.update(l2_strengths=(0.0,), dropout_rates=(0.0,))  # these two hold the undefended point 0 themselves
    sweep.update(given)
    return dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, **sweep))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def with_config_file(cfg: ExperimentConfig, path: str | Path) -> ExperimentConfig:
    """``cfg`` with the settings of the TOML file at ``path`` (see the module)."""
    import tomllib

    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    top = {f.name for f in dataclasses.fields(ExperimentConfig)}
    changes: dict[str, Any] = {}
    for key, value in doc.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"--config {path}: [{key}] must be a table")
            section = getattr(cfg, key)
            known = {f.name for f in dataclasses.fields(section)}
            bad = sorted(set(value) - known)
            if bad:
                raise ConfigError(f"--config {path}: {key}.{bad[0]}: not a setting (choose from {', '.join(sorted(known))})")
            changes[key] = dataclasses.replace(section, **{k: _tuples(v) for k, v in value.items()})
        elif key in top and key not in SECTIONS:
            changes[key] = _tuples(value)
        else:
            raise ConfigError(f"--config {path}: {key}: not a setting of the experiment")
    try:
        return dataclasses.replace(cfg, **changes)
    except ConfigError as exc:
        raise ConfigError(f"--config {path}: {exc}") from None
