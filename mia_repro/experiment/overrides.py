"""Choosing an experiment without Python: the CLI's sweep flags and ``--config FILE`` (TOML), applied to a
profile's :class:`~mia_repro.experiment.config.ExperimentConfig` and validated like it.

* :func:`with_sweep`: ``--l2``, ``--dropout``, ``--dp-epsilons``, ``--topk``, ``--rounding``, ``--temperatures``
  set the mitigation sweep's strengths; once any is given, the sweep is exactly the defenses given (the
  undefended target always comes first), so ``--l2 1e-3 1e-2`` is an L2-only sweep.
* :func:`with_config_file`: a TOML file of top-level fields and ``[model]``, ``[attack]``, ``[mitigation]``,
  ``[outputs]``, ``[pool]``, ``[audit]`` tables (lists become tuples); an unknown key or a bad value is a
  :class:`~mia_repro.base.errors.ConfigError` naming the file and the field.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mia_repro.base.errors import ConfigError
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
    return _exact_sweep(cfg, given, {f: f"--{k.replace('_', '-')}" for k, f in SWEEP_FIELDS.items()})


def _exact_sweep(cfg: ExperimentConfig, given: dict[str, tuple], names: dict[str, str]) -> ExperimentConfig:
    """``cfg`` whose sweep is exactly the defenses ``given`` (MitigationConfig field -> values); a bad value is
    a ConfigError naming it as the user wrote it (``names``: field -> flag or file key)."""
    sweep = {f: () for f in SWEEP_FIELDS.values()}
    sweep.update(l2_strengths=(0.0,), dropout_rates=(0.0,))  # these two hold the undefended point 0 themselves
    sweep.update(given)
    try:
        return dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, **sweep))
    except ConfigError as exc:
        text = str(exc)
        for field, name in names.items():
            text = text.replace(f"mitigation.{field}:", f"{name} (mitigation.{field}):")
        raise ConfigError(text) from None


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


#: the file's names that are the CLI's flags (the same meaning): flag key -> where it lands
FLAG_KEYS = {"epochs": ("model", "epochs"), "shadows": (None, "n_shadows"), "data": (None, "data_path")}


def with_config_file(cfg: ExperimentConfig, path: str | Path) -> ExperimentConfig:
    """``cfg`` with the settings of the TOML file at ``path``.

    Names: every top-level field of :class:`~mia_repro.experiment.config.ExperimentConfig` and the tables
    ``[model]``, ``[attack]``, ``[mitigation]``, ``[outputs]``, ``[pool]``, ``[audit]`` with their fields; the
    flags' own names mean what the flags do: ``epochs`` (``model.epochs``), ``shadows`` (``n_shadows``),
    ``data`` (``data_path``), and the sweep flags ``l2``, ``dropout``, ``dp_epsilons``, ``topk``, ``rounding``,
    ``temperatures``.  A sweep given in the file, by a flag's name or a ``[mitigation]`` field
    (``l2_strengths`` ...), is exactly the defenses given, as with the flags.  ``profile`` must be the one
    chosen with ``--profile``; a ``data_path`` must hold CIFAR-10.  Anything else is one
    :class:`~mia_repro.base.errors.ConfigError` naming the file and the key.
    """
    import tomllib

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        doc = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not a text file (TOML is UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    top = {f.name for f in dataclasses.fields(ExperimentConfig)} - set(SECTIONS)
    changes: dict[str, Any] = {}
    sections: dict[str, dict] = {}
    sweep: dict[str, tuple] = {}
    names: dict[str, str] = {}
    for key, value in doc.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"--config {path}: [{key}] must be a table")
            known = {f.name for f in dataclasses.fields(getattr(cfg, key))}
            bad = sorted(set(value) - known)
            if bad:
                raise ConfigError(f"--config {path}: {key}.{bad[0]}: not a setting (choose from {', '.join(sorted(known))})")
            table = {k: _tuples(v) for k, v in value.items()}
            if key == "mitigation":
                for field in set(table) & set(SWEEP_FIELDS.values()):
                    sweep[field] = _sequence(path, f"mitigation.{field}", table.pop(field))
            sections.setdefault(key, {}).update(table)
        elif key in SWEEP_FIELDS:
            field = SWEEP_FIELDS[key]
            sweep[field], names[field] = _sequence(path, key, _tuples(value)), key
        elif key in FLAG_KEYS:
            section, field = FLAG_KEYS[key]
            if section is None:
                changes[field] = _tuples(value)
            else:
                sections.setdefault(section, {})[field] = value
        elif key == "profile":
            if value != cfg.profile:
                raise ConfigError(f"--config {path}: profile {value!r}: choose the profile with --profile (now "
                                  f"{cfg.profile!r}); the file's settings apply on top of it")
        elif key in top:
            changes[key] = _tuples(value)
        else:
            raise ConfigError(f"--config {path}: {key}: not a setting of the experiment (see `python -m mia_repro "
                              f"--help` and the README's table of settings)")
    if isinstance(changes.get("data_path"), str):
        from mia_repro.data.cifar10 import named_batch_dir
        from mia_repro.base.errors import MiaReproError

        try:
            named_batch_dir(changes["data_path"])
        except MiaReproError as exc:
            raise ConfigError(f"--config {path}: data_path: {exc}") from None
    try:
        for key, table in sections.items():
            changes[key] = dataclasses.replace(getattr(cfg, key), **table)
        out = dataclasses.replace(cfg, **changes)
    except ConfigError as exc:
        raise ConfigError(f"--config {path}: {exc}") from None
    except TypeError as exc:  # a value of a type no field takes
        raise ConfigError(f"--config {path}: {exc}") from None
    if not sweep:
        return out
    try:
        return _exact_sweep(out, sweep, names)
    except ConfigError as exc:
        raise ConfigError(f"--config {path}: {exc}") from None


def _sequence(path: Path, key: str, value: Any) -> tuple:
    if not isinstance(value, tuple):
        raise ConfigError(f"--config {path}: {key}: expected a list of values, got {value!r}")
    return value
