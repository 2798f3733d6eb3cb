"""What a trained model is asked after training (:class:`QuerySpec`); numpy only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class QuerySpec:
    """What one model is asked after training (:func:`query_model`): ``own`` int64 (2n,) its members then
    non-members; ``population`` int64 (P,) the population sample; ``augmentations`` the label-only queries
    (:mod:`mia_repro.data.augment` names); ``reference`` int64 (2n_t,) the target's records (a shadow's
    reference outputs), None for a target."""

    own: np.ndarray
    population: np.ndarray
    augmentations: tuple[str, ...]
    reference: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "own", np.asarray(self.own, np.int64))
        object.__setattr__(self, "population", np.asarray(self.population, np.int64))
        object.__setattr__(self, "augmentations", tuple(self.augmentations))
        if self.reference is not None:
            object.__setattr__(self, "reference", np.asarray(self.reference, np.int64))

    def ask(self, weights: list[np.ndarray], cfg, x: np.ndarray) -> dict[str, np.ndarray]:
        """:func:`~mia_repro.models.inference.query_model` of these records (``cfg``: the
        :class:`~mia_repro.models.config.ModelConfig` the weights belong to; imports Keras)."""
        from mia_repro.models.inference import query_model

        return query_model(weights, cfg, x, self.own, self.population, self.augmentations, self.reference)
