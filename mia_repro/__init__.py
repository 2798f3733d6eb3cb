"""mia_repro: Shokri et al. (IEEE S&P 2017) membership inference on CIFAR-10.

The pipeline, one module per step:
``config`` (profiles) -> ``data`` (CIFAR-10) -> ``splits`` (member/non-member
indices) -> ``models`` (the CNN) -> ``training/`` (jobs, trainers, and the
executor that trains them on every core or a Dask cluster) -> ``stage1``
(cached prediction vectors) -> ``attacks/`` (Shokri's per-class SVMs and
today's attacks) -> ``metrics`` -> ``stage2`` / ``compare`` (summary and score
files) -> ``defenses`` / ``mitigation`` -> ``seeds`` / ``spread`` -> ``plots``.
Keras is imported through ``quiet`` (backend noise filtered).
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .config import PROFILES, ConfigError, ExperimentConfig, get_config  # noqa: E402
from .data import DatasetNotFoundError, load_cifar10  # noqa: E402
from .splits import make_splits  # noqa: E402

__all__ = ["PROFILES", "ConfigError", "ExperimentConfig", "get_config", "DatasetNotFoundError", "load_cifar10", "make_splits"]
__version__ = "0.1.0"
