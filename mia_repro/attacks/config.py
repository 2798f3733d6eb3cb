"""Shokri's attack models' settings (:class:`AttackConfig`): the per-class RBF SVMs' (C, gamma) grid, its
cross-validation and the records it fits on.  Validated when made (``attack.<field>``)."""
from __future__ import annotations

from dataclasses import dataclass

from mia_repro.base.validation import is_int, is_number, need, positive_numbers


@dataclass(frozen=True)
class AttackConfig:
    """Stage II: one RBF SVM per class, C and gamma chosen jointly by k-fold CV.

    The summary reports any best point on the edge of the grid, with the CV
    accuracy one step beyond it (a best point on the edge means the grid is too
    small).  ``cv_samples`` / ``fit_samples`` bound the
    records (per class, stratified, seeded) used for the grid search and for
    the final fit: an exact RBF SVM on 30,000 records per class takes hours.
    """

    C_grid: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    gamma_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    cv_folds: int = 5
    cv_samples: int = 1000
    fit_samples: int = 4000
    n_jobs: int = -1
    #: the untuned variant ``shokri_svm_fixed``: scikit-learn's SVC defaults of 2017 (C = 1, gamma = 'auto' =
    #: 1 / n_features = 0.1 on 10-class softmax vectors), what a reader of the paper would have run
    fixed_C: float = 1.0
    fixed_gamma: float = 0.1

    def __post_init__(self):
        a = self
        positive_numbers("attack.C_grid", a.C_grid)
        positive_numbers("attack.gamma_grid", a.gamma_grid)
        for name in ("fixed_C", "fixed_gamma"):
            v = getattr(a, name)
            need(is_number(v) and v > 0, f"attack.{name}", "expected a positive number", v)
        need(is_int(a.cv_folds) and a.cv_folds >= 2, "attack.cv_folds", "expected an integer >= 2", a.cv_folds)
        for name in ("cv_samples", "fit_samples"):
            v = getattr(a, name)
            need(v is None or (is_int(v) and v >= 2), f"attack.{name}", "expected an integer >= 2 or None", v)
