"""mia_repro: Shokri et al. (IEEE S&P 2017) membership inference on CIFAR-10.

The pipeline, one module per step:
``config`` (profiles) -> ``data`` (CIFAR-10) -> ``splits`` (member/non-member
indices) -> ``models`` (the CNN) -> ``training`` / ``stacked`` (train K
models) -> ``stage1`` (cached prediction vectors) -> ``attack`` (per-class SVMs
and the threshold baseline) -> ``metrics`` -> ``stage2`` (summary and score
files) -> ``defenses`` / ``mitigation`` -> ``plots``.
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .config import PROFILES, ConfigError, ExperimentConfig, get_config  # noqa: E402
from .data import DatasetNotFoundError, load_cifar10  # noqa: E402
from .splits import make_splits  # noqa: E402

__all__ = ["PROFILES", "ConfigError", "ExperimentConfig", "get_config", "DatasetNotFoundError", "load_cifar10", "make_splits"]
__version__ = "0.1.0"
