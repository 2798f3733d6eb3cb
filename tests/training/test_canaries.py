"""White-box canaries and the DP noise's seed, by hand."""
import numpy as np
import pytest

from mia_repro.training.canaries import MAGNITUDE, WhiteBoxCanaries
from mia_repro.training.dp_sgd import noise_generator


def test_canaries_add_their_clipped_gradient_where_sampled_and_score_the_released_sum():
    shapes = [(2, 3), (4,)]
    c = WhiteBoxCanaries(shapes, m=5, clip_norm=1.0, seed=3)
    assert len(set(c.coordinates)) == 5 and c.coordinates.max() < 10 and c.magnitude == 1.0  # min(10, C)
    zeros = [np.zeros(s, np.float32) for s in shapes]
    out = c.add(zeros, sampling_rate=1.0)  # every included canary is sampled
    flat = np.concatenate([o.reshape(-1) for o in out])
    expect = np.zeros(10)
    expect[c.coordinates[c.included]] = 1.0
    np.testing.assert_array_equal(flat, expect)
    assert all(z.sum() == 0 for z in zeros)  # the caller's arrays are not changed
    c.observe(out)
    c.observe([np.full(s, 0.5) for s in shapes])
    np.testing.assert_allclose(c.score, np.where(c.included, 1.5, 0.5))
    assert c.steps == 2 and c.sampled == int(c.included.sum())
    none = c.add(zeros, sampling_rate=0.0)
    assert all(o.sum() == 0 for o in none)
    rec = c.record()
    assert rec["included"] == c.included.tolist() and rec["score"] == c.score.tolist()


def test_without_clipping_a_canary_adds_its_full_magnitude():
    c = WhiteBoxCanaries([(100,)], m=10, clip_norm=None, seed=0)
    assert c.magnitude == MAGNITUDE
    with pytest.raises(ValueError, match="one parameter each"):
        WhiteBoxCanaries([(3,)], m=4, clip_norm=1.0, seed=0)


def test_noise_seeds():
    a, b = noise_generator("secret", 5).random(3), noise_generator("secret", 5).random(3)
    assert not np.array_equal(a, b)  # fresh entropy each run
    np.testing.assert_array_equal(noise_generator("model", 5).random(3), np.random.default_rng([5, 13]).random(3))
    np.testing.assert_array_equal(noise_generator(7, 5).random(3), np.random.default_rng([7, 13]).random(3))
