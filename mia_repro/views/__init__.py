"""Every way to build the attacker's view (:class:`~mia_repro.attacks.AttackerView`) of a model of one's own.

* :func:`view_from_arrays` (:mod:`.arrays`) -- logits or probabilities (named for what they are:
  ``logits=`` vs ``probs=``), labels and, for shadows, membership;
* :func:`view_from_models` (:mod:`.keras`) -- Keras models and the records they were queried on: the
  target and its records, each shadow with its records and their membership, and optionally a
  ``population`` sample that turns on the reference-model attacks (LiRA, RMIA, calibrated loss);
* :func:`view_from_pool` (:mod:`.pool`) -- a pool of reference models, some trained on each target record
  and some not (their masks known), where the online attacks run; :class:`ReferencePool` is the pool;
* :mod:`.defenses` -- the target's outputs after an output-side defense (top-k, rounding, temperature);
* :mod:`.mistakes` -- the silent mistakes caught on the way: the same model twice, misaligned labels,
  inverted membership (:class:`OwnInputError`).

Then :func:`mia_repro.evaluation.run_attacks` fits the attacks on the view and judges them on the
target's membership, which the view never holds:

>>> import numpy as np
>>> from mia_repro.views import view_from_arrays
>>> rng = np.random.default_rng(0)
>>> view = view_from_arrays(rng.integers(0, 3, 40), [rng.integers(0, 3, 40)], [np.arange(40) < 20],
...                         target_logits=rng.normal(size=(40, 3)), shadow_logits=[rng.normal(size=(40, 3))])
>>> view.num_classes, len(view.true_class)
(3, 40)
"""
from mia_repro.views.arrays import ShadowOutputs, as_logits, view_from_arrays
from mia_repro.views.keras import view_from_models
from mia_repro.views.mistakes import OwnInputError
from mia_repro.views.pool import ReferencePool, view_from_pool

__all__ = ["OwnInputError", "ReferencePool", "ShadowOutputs", "as_logits", "view_from_arrays", "view_from_models",
           "view_from_pool"]
