"""The checks for a new user's silent mistakes fire on the mistake and stay quiet on correct input."""
import warnings

import numpy as np
import pytest

from mia_repro.views.mistakes import (
    COPY_ROWS, INVERTED_Z, OwnInputError, check_not_copies, inversion_warning, misalignment_warning, shared_rows
)
from mia_repro.evaluation.evaluate import run_attacks
from mia_repro.views.arrays import view_from_arrays
from mia_repro.views.pool import view_from_pool

C, N = 10, 400
MEMBER = np.arange(N) < N // 2


def _model(rng, n=N, boost=3.0):
    """labels int (n,) and logits float64 (n, C) of a model right on most records (its boosted true logit)."""
    y = rng.integers(0, C, n)
    z = rng.normal(size=(n, C))
    z[np.arange(n), y] += boost
    return y, z


def _kwargs(seed=0):
    rng = np.random.default_rng(seed)
    y, z = _model(rng)
    z[MEMBER, y[MEMBER]] += 2.0  # members more confident: a real signal
    shadows = [_model(rng) for _ in range(3)]
    return dict(target_labels=y, target_logits=z, shadow_labels=[s[0] for s in shadows],
                shadow_member=[MEMBER] * 3, shadow_logits=[s[1] for s in shadows])


def _run(kw, member=MEMBER):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_attacks(view_from_arrays(**kw), member, ["loss_threshold_global", "confidence_threshold"],
                          bootstrap=0)
    return res, [str(w.message) for w in caught]


def test_correct_input_gives_no_warning():
    res, caught = _run(_kwargs())
    assert caught == [] and res.summary()["AUC"].min() > 0.8


def test_swapped_membership_is_reported_as_inverted():
    res, caught = _run(_kwargs(), ~MEMBER)
    assert res.summary()["AUC"].max() < 0.2
    assert len(caught) == 1 and "membership looks inverted" in caught[0]
    assert "loss_threshold_global 0." in caught[0] and "confidence_threshold 0." in caught[0]


def test_labels_out_of_order_are_flagged_as_misaligned():
    kw = _kwargs()
    kw["target_labels"] = np.random.default_rng(5).permutation(kw["target_labels"])
    _, caught = _run(kw)
    assert any("labels look misaligned" in c for c in caught), caught


@pytest.mark.parametrize("where", ["shadow", "reference"])
def test_the_target_given_again_as_a_shadow_or_reference_is_refused(where):
    kw = _kwargs()
    if where == "shadow":
        kw["shadow_logits"] = [kw["target_logits"]] + kw["shadow_logits"][1:]
        kw["shadow_labels"] = [kw["target_labels"]] + kw["shadow_labels"][1:]
        with pytest.raises(OwnInputError, match="shadow 0: 400 of its output rows are identical to the target's"):
            view_from_arrays(**kw)
    else:
        rng = np.random.default_rng(2)
        ref = np.stack([kw["target_logits"], rng.normal(size=(N, C)), rng.normal(size=(N, C))])
        with pytest.raises(OwnInputError, match="reference 0: 400 of its output rows are identical"):
            view_from_pool(kw["target_labels"], rng.random((3, N)) < 0.5, target_logits=kw["target_logits"],
                           reference_logits=ref, population_labels=rng.integers(0, C, 50),
                           target_population_logits=rng.normal(size=(50, C)),
                           population_logits=rng.normal(size=(3, 50, C)))


def test_shared_rows_counts_exact_repeats_only():
    a = np.arange(12.0).reshape(4, 3)
    b = np.concatenate([a[[1, 3]], a[[0]] + 1e-12, np.ones((2, 3))])
    assert shared_rows(a, b) == 2 and shared_rows(a, np.ones((0, 3))) == 0 and shared_rows(a, np.ones((2, 4))) == 0
    check_not_copies(a, {"x": b})  # 2 rows: below COPY_ROWS
    big = np.random.default_rng(0).normal(size=(200, 3))
    with pytest.raises(OwnInputError, match=f"x: {COPY_ROWS} of its output rows"):
        check_not_copies(big, {"x": np.concatenate([big[:COPY_ROWS], np.zeros((10, 3))])})
    check_not_copies(big, {"x": np.concatenate([big[:COPY_ROWS - 1], np.zeros((10, 3))])})


def test_inversion_threshold_is_four_null_standard_errors():
    n1 = n0 = 200
    se = np.sqrt((n1 + n0 + 1) / (12 * n1 * n0))
    assert inversion_warning({"a": 0.5 - INVERTED_Z * se + 1e-9}, n1, n0) is None
    line = inversion_warning({"a": 0.5 - INVERTED_Z * se - 1e-6, "b": 0.45}, n1, n0)
    assert line.startswith(f"AUC far below chance (a {0.5 - INVERTED_Z * se:.3f};") and "b 0.450" not in line
    assert inversion_warning({"a": float("nan")}, n1, n0) is None and inversion_warning({"a": 0.0}, 0, n0) is None


def test_misalignment_needs_shadows_better_than_chance():
    class View:  # the three attributes the check reads
        num_classes = C

        def __init__(self, target_acc, shadow_acc):
            rng = np.random.default_rng(0)
            self.true_class = rng.integers(0, C, 1000)
            self.target_logits = np.eye(C)[np.where(np.arange(1000) < target_acc * 1000, self.true_class,
                                                    (self.true_class + 1) % C)]
            shadow = type("S", (), {})()
            shadow.true_class = self.true_class
            shadow.logits = np.eye(C)[np.where(np.arange(1000) < shadow_acc * 1000, self.true_class,
                                               (self.true_class + 1) % C)]
            self.shadows = [shadow]

    assert "0.100 against the shadows' 0.600" in misalignment_warning(View(0.1, 0.6))
    assert misalignment_warning(View(0.31, 0.6)) is None  # above half the shadows' accuracy
    assert misalignment_warning(View(0.05, 0.14)) is None  # shadows at chance: nothing to compare with
