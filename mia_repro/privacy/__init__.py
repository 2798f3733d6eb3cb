"""Differential privacy, accounted and audited: :mod:`.accounting` (DP-SGD's ε with Google's
``dp-accounting``), :mod:`.audit` (the ε that an attack's success proves), :mod:`.one_run` (Steinke, Nasr and
Jagielski's one-run bound), :mod:`.one_run_gdp` (the f-DP one-run estimate) and :mod:`.ceiling` (what a
one-run audit could show at best).  numpy, scipy and ``dp-accounting`` only.

The accountant's names are loaded when first used (``from mia_repro.privacy import epsilon_pld``).
"""
import importlib

_ACCOUNTING = ("Schedule", "calibrate", "dp_event", "epsilon_pld", "epsilon_rdp", "schedule_for", "steps_per_epoch")

__all__ = list(_ACCOUNTING)


def __getattr__(name: str):
    if name not in _ACCOUNTING:
        raise AttributeError(f"module 'mia_repro.privacy' has no attribute {name!r}")
    return getattr(importlib.import_module("mia_repro.privacy.accounting"), name)
