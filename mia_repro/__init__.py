"""mia_repro: Shokri et al. (IEEE S&P 2017) membership inference on CIFAR-10.

The pipeline, one module per step:
``config`` (profiles) -> ``data`` (CIFAR-10) -> ``splits`` (member/non-member
indices) -> ``models`` (the CNN) -> ``training/`` (jobs, trainers, and the
executor that trains them on every core or a Dask cluster) -> ``stage1``
(cached prediction vectors) -> ``attacks/`` (Shokri's per-class SVMs and
today's attacks, scikit-learn estimators on the attacker's view) -> ``metrics``
-> ``evaluation`` (fit, score, judge: every stage's and ``own``'s one
evaluation) -> ``stage2`` / ``compare`` (summary and score files) -> ``defenses`` / ``mitigation`` -> ``seeds`` / ``spread`` -> ``plots``.
Keras is imported through ``quiet`` (backend noise filtered); ``attacks``,
``metrics``, ``evaluation``, ``audit``, ``own``'s arrays path and ``plots``
import neither Keras nor TensorFlow.  ``errors``: every error the package
raises on purpose derives from :class:`MiaReproError`.
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .errors import MiaReproError, MiaReproInputError  # noqa: E402
from .config import PROFILES, ConfigError, ExperimentConfig, get_config  # noqa: E402
from .data import DatasetNotFoundError, load_cifar10  # noqa: E402
from .splits import make_splits  # noqa: E402

__all__ = ["MiaReproError", "MiaReproInputError", "PROFILES", "ConfigError", "ExperimentConfig", "get_config", "DatasetNotFoundError", "load_cifar10", "make_splits"]
__version__ = "0.1.0"
