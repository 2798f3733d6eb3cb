"""mia_repro: Shokri et al. (IEEE S&P 2017) membership inference on CIFAR-10.

The folders are the layers; a module imports only from its own layer or the ones before it in this list
(``tests/base/test_layering.py`` reads each module's layer from its folder and checks every import, at
module level or inside a function):

1. ``base/`` -- errors, config value checks, paths, atomic and verified files, progress, Keras without
   backend noise, determinism, the old import paths.
2. ``attacks/`` -- Shokri's per-class SVMs and today's attacks, scikit-learn estimators on the attacker's
   view (the view, the signals, the thresholds, the registry, the contract :func:`check_attack`).
3. ``views/`` -- every way to build an attacker's view: arrays, Keras models, a reference pool, a defended
   output; the silent mistakes caught on the way.
4. ``evaluation/`` -- metrics, results, fit-score-judge, the judging on a reference pool.
5. ``privacy/`` -- DP accounting, the audit, the one-run bounds and their ceiling.
6. ``data/`` -- CIFAR-10 pooled and verified, the member / non-member splits, augmentations.
7. ``models/`` and ``training/`` -- the CNN, its config and inference; jobs, trainers, DP-SGD (with the
   own-model DP trainer) and the executor that trains on every core or a Dask cluster.
8. ``experiment/`` -- config, profiles, keys, layout, store, cached training, provenance; the stages in
   ``experiment/stages/``.
9. ``reporting/`` -- tables and figures from what the stages wrote.
10. ``tools/`` -- the command line, the notebook reproduction, the benchmark, the cache migration.

Layers 1-5 need numpy, scipy and scikit-learn only; Keras is imported from layer 7 on (and by
:func:`mia_repro.views.view_from_models`, which queries Keras models).  A module that moved keeps its old
import path (:mod:`mia_repro.base.moved`), with a warning naming the new one.
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mia_repro.base import moved as _moved  # noqa: E402

_moved.install()

from mia_repro.base.errors import MiaReproError, MiaReproInputError  # noqa: E402
from mia_repro.base.errors import ConfigError  # noqa: E402
from mia_repro.experiment.config import ExperimentConfig  # noqa: E402
from mia_repro.experiment.profiles import PROFILES, get_config  # noqa: E402
from mia_repro.data.cifar10 import DatasetNotFoundError, load_cifar10  # noqa: E402
from mia_repro.data.splits import make_splits  # noqa: E402

#: the own-model API, loaded when first used (``from mia_repro import view_from_models, run_attacks``): importing
#: the package does not import the attacks or Keras
_OWN_MODEL = {**dict.fromkeys(("view_from_arrays", "view_from_models", "view_from_pool", "OwnInputError"),
                              "mia_repro.views"),
              **dict.fromkeys(("run_attacks", "members_at_fdr", "pvalues", "AttackResults"), "mia_repro.evaluation"),
              **dict.fromkeys(("register", "check_attack", "MembershipAttack", "AttackerView"), "mia_repro.attacks")}


def __getattr__(name: str):
    if name not in _OWN_MODEL:
        raise AttributeError(f"module 'mia_repro' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_OWN_MODEL[name]), name)


__all__ = ["MiaReproError", "MiaReproInputError", "PROFILES", "ConfigError", "ExperimentConfig", "get_config",
           "DatasetNotFoundError", "load_cifar10", "make_splits", *_OWN_MODEL]
__version__ = "0.1.0"
