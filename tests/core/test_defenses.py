import numpy as np
import pytest

from mia_repro.views.defenses import output_defense, rounding, temperature, top_k

P = np.array([[0.6, 0.3, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])


def test_top1_is_one_hot_of_argmax():
    np.testing.assert_allclose(top_k(P, 1), [[1, 0, 0, 0], [0, 0, 0, 1]])


def test_top_k_keeps_k_entries_and_renormalizes():
    out = top_k(P, 2)
    np.testing.assert_allclose(out, [[2 / 3, 1 / 3, 0, 0], [0, 0, 3 / 7, 4 / 7]], rtol=1e-6)
    assert ((out > 0).sum(axis=1) == 2).all()
    with pytest.raises(ValueError):
        top_k(P, 5)


def test_rounding():
    np.testing.assert_allclose(rounding(np.array([[0.123456, 0.876544]]), 2), [[0.12, 0.88]], rtol=1e-6)
    np.testing.assert_allclose(rounding(np.array([[0.04, 0.96]]), 1), [[0.0, 1.0]])


def test_temperature_keeps_argmax_and_raises_entropy():
    out = temperature(P, 5.0)
    assert (out.argmax(1) == P.argmax(1)).all()
    np.testing.assert_allclose(out.sum(1), 1, rtol=1e-6)

    def entropy(p):
        p = np.clip(p, 1e-12, 1)
        return -(p * np.log(p)).sum(1)

    assert (entropy(out) > entropy(P)).all()
    np.testing.assert_allclose(temperature(P[1:], 1.0), P[1:], rtol=1e-5)
    with pytest.raises(ValueError):
        temperature(P, 0)


def test_output_defense_lookup():
    np.testing.assert_allclose(output_defense("topk", 1)(P), top_k(P, 1))
    with pytest.raises(ValueError, match="unknown output defense"):
        output_defense("noise", 1)
