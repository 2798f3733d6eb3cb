"""Old import paths: a module that moved is still importable under its old name, with a ``FutureWarning``
that names its new one.

:data:`MOVED` maps each old dotted name to its new module; :func:`install` puts :class:`MovedFinder` on
``sys.meta_path`` (the package's ``__init__`` does), after the ordinary finders, so it is asked only for a
name no file answers.  ``import mia_repro.metrics`` then returns the module
:mod:`mia_repro.evaluation.metrics` itself (one module under two names: a monkeypatch of either is seen by
both), and ``python -m mia_repro.bench`` runs :mod:`mia_repro.tools.bench`.  A module that was split in
parts (``mia_repro.own``) answers each old name from its new module (:data:`SPLIT`).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

#: old module -> new module, for every module that moved as a whole
MOVED = {
    "mia_repro.errors": "mia_repro.base.errors", "mia_repro.environment": "mia_repro.base.environment",
    "mia_repro.validation": "mia_repro.base.validation", "mia_repro.paths": "mia_repro.base.paths",
    "mia_repro.cache": "mia_repro.base.cache", "mia_repro.progress": "mia_repro.base.progress",
    "mia_repro.quiet": "mia_repro.base.quiet", "mia_repro.determinism": "mia_repro.base.determinism",
    "mia_repro.reference_pool": "mia_repro.views.pool", "mia_repro.defenses": "mia_repro.views.defenses",
    "mia_repro.mistakes": "mia_repro.views.mistakes",
    "mia_repro.metrics": "mia_repro.evaluation.metrics", "mia_repro.pool_evaluation": "mia_repro.evaluation.pool",
    "mia_repro.audit": "mia_repro.privacy.audit", "mia_repro.one_run_audit": "mia_repro.privacy.one_run",
    "mia_repro.one_run_gdp": "mia_repro.privacy.one_run_gdp", "mia_repro.audit_ceiling": "mia_repro.privacy.ceiling",
    "mia_repro.own_dp": "mia_repro.training.own_dp",
    **{f"mia_repro.experiment.{m}": f"mia_repro.experiment.stages.{m}"
       for m in ("stage1", "stage2", "compare", "mitigation", "canary_audit", "pool", "pool_attacks", "seeds",
                 "svm_sensitivity")},
    **{f"mia_repro.{m}": f"mia_repro.tools.{m}" for m in ("cli", "reproduce", "bench", "migrate")},
}

#: old module that was split -> {name: its new module}
SPLIT = {
    "mia_repro.own": {
        **dict.fromkeys(("OwnInputError",), "mia_repro.views.mistakes"),
        **dict.fromkeys(("ShadowOutputs", "as_logits", "view_from_arrays", "LOGIT_LIMIT"), "mia_repro.views.arrays"),
        "view_from_models": "mia_repro.views.keras", "view_from_pool": "mia_repro.views.pool",
        **dict.fromkeys(("pvalues", "members_at_fdr"), "mia_repro.evaluation.pool"),
        **dict.fromkeys(("AttackResult", "AttackResults"), "mia_repro.evaluation.results"),
        "run_attacks": "mia_repro.evaluation.evaluate",
    },
}


def moved_warning(old: str, new: str, how: str = "import it from there", stacklevel: int = 2) -> None:
    """The one warning of an old path, pointing at the line that used it: ``stacklevel`` frames above
    :func:`moved_warning` (an importer's own frames not counted)."""
    warnings.warn(f"{old} is now {new}: {how} (the old name will go)", FutureWarning, stacklevel=stacklevel + 1)


def split_module(old: str) -> types.ModuleType:
    """A stand-in for a split module: each old name is looked up in its new module, with a warning naming it."""
    where = SPLIT[old]
    module = types.ModuleType(old, f"{old} was split: " + ", ".join(f"{n} -> {m}" for n, m in sorted(where.items())))
    module.__getattr__ = names_moved(old, where)
    module.__all__ = sorted(where)
    return module


def names_moved(module: str, homes: dict[str, str]):
    """A module's ``__getattr__`` for the names that moved out of it (``{name: new module}``): each is found in
    its new module, with a warning naming it; any other name is an ``AttributeError`` as usual."""
    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        moved_warning(f"{module}.{name}", f"{homes[name]}.{name}")
        return getattr(importlib.import_module(homes[name]), name)
    return __getattr__


class MovedLoader(importlib.abc.Loader):
    """Loads an old name as its new module (``exec_module`` swaps the module in ``sys.modules``, which the
    import system reads back), or a split module's stand-in; ``get_code`` serves ``python -m OLD``."""

    def __init__(self, old: str):
        self.old = old

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        if self.old in SPLIT:
            sys.modules[self.old] = split_module(self.old)
            return
        new = MOVED[self.old]
        moved_warning(self.old, new)
        sys.modules[self.old] = importlib.import_module(new)

    def get_code(self, fullname: str):
        new = MOVED.get(fullname)
        if new is None:
            raise ImportError(f"{fullname} was split; import its names from their new modules ({fullname}.__doc__)")
        moved_warning(fullname, new, f"run python -m {new}")
        spec = importlib.util.find_spec(new)
        return spec.loader.get_code(new)

    def is_package(self, fullname: str) -> bool:
        return False


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old names of :data:`MOVED` and :data:`SPLIT` (only those: every other name is left alone)."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname in MOVED or fullname in SPLIT:
            return importlib.machinery.ModuleSpec(fullname, MovedLoader(fullname))
        return None


def install() -> None:
    """Put :class:`MovedFinder` last on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
