"""mia_repro: Shokri et al. (IEEE S&P 2017) membership inference on CIFAR-10.

The package in layers; a module imports only from its own layer or the ones above it in this list
(enforced by ``tests/base/test_layering.py`` on every import, at module level or inside a function):

1. **base** -- ``errors`` (every error the package raises on purpose derives from :class:`MiaReproError`),
   ``validation`` (config value checks), ``paths``, ``environment`` (variables set for a while), ``cache`` (atomic files and digests), ``quiet`` (Keras
   without backend noise), ``determinism``.
2. **core** -- ``attacks/`` (Shokri's per-class SVMs and today's attacks, scikit-learn estimators on the
   attacker's view), ``metrics``, ``evaluation`` (fit, score, judge), ``mistakes`` (a user's silent
   mistakes caught: the same model twice, misaligned labels, inverted membership), ``reference_pool`` (a pool of
   reference models and the attacker's view of one), ``pool_evaluation`` (leave-one-out, the power
   curve, reproducibility, precision at priors), ``audit``, ``one_run_audit`` (Steinke et al.'s bound),
   ``one_run_gdp`` (the f-DP one-run estimate), ``audit_ceiling`` (what the audit could show at best),
   ``privacy``, ``defenses``: numpy, scipy and scikit-learn only.
3. **data** -- ``data/``: CIFAR-10 pooled and verified, the member / non-member splits, augmentations.
4. **models and training** -- ``models/`` (the CNN, its config, what a model is asked, inference),
   ``training/`` (jobs, trainers, DP-SGD, and the executor that trains on every core or a Dask
   cluster), ``own`` (the attacks on your own Keras models).
5. **experiment** -- ``experiment/``: config schema, profiles, keys, layout, store, the per-model file,
   plan, cached training, provenance, and the stages (Stage I, Stage II, compare, mitigation, seeds,
   the reference pool and its attacks).
6. **reporting** -- ``reporting/``: tables, figures and the seed spread, from what the stages wrote.
7. **tools** -- ``cli``, ``reproduce`` (the notebooks via papermill), ``bench``.
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mia_repro.errors import MiaReproError, MiaReproInputError  # noqa: E402
from mia_repro.errors import ConfigError  # noqa: E402
from mia_repro.experiment.config import ExperimentConfig  # noqa: E402
from mia_repro.experiment.profiles import PROFILES, get_config  # noqa: E402
from mia_repro.data.cifar10 import DatasetNotFoundError, load_cifar10  # noqa: E402
from mia_repro.data.splits import make_splits  # noqa: E402

__all__ = ["MiaReproError", "MiaReproInputError", "PROFILES", "ConfigError", "ExperimentConfig", "get_config", "DatasetNotFoundError", "load_cifar10", "make_splits"]
__version__ = "0.1.0"
