"""Checks of configuration values, shared by every config section: each raises
:class:`~mia_repro.base.errors.ConfigError` naming the field, what was expected and what was given."""
from __future__ import annotations

from typing import Any

import numpy as np

from mia_repro.base.errors import ConfigError


def is_int(v: Any) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """An int or float (numpy's too), not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def need(ok: bool, field_name: str, problem: str, value: Any) -> None:
    """:class:`ConfigError` ``"<field_name>: <problem>, got <value>"`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{field_name}: {problem}, got {value!r}")


def positive_ints(name: str, values: Any, allow_empty: bool = False) -> None:
    """``values`` is a tuple of positive integers (non-empty unless ``allow_empty``)."""
    need(isinstance(values, tuple) and (allow_empty or len(values) > 0), name, "expected a non-empty tuple", values)
    for v in values:
        need(is_int(v) and v > 0, name, "every entry must be a positive integer", values)


def positive_numbers(name: str, values: Any, allow_zero: bool = False) -> None:
    """``values`` is a non-empty tuple of positive (with ``allow_zero``: non-negative) numbers."""
    need(isinstance(values, tuple) and len(values) > 0, name, "expected a non-empty tuple", values)
    for v in values:
        need(is_number(v) and (v >= 0 if allow_zero else v > 0), name,
             "every entry must be a " + ("non-negative" if allow_zero else "positive") + " number", values)


def delta_problem(n: int) -> str:
    """Why DP's δ must be below 1/n: the message of every check of it."""
    return (f"expected δ < 1/n = {1 / n:.3g} (n = {n:,} training records): a guarantee with δ >= 1/n allows a "
            "mechanism that publishes one record outright; use a δ far below 1/n (1e-5 is usual)")
