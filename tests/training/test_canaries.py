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


def test_the_likelihood_ratio_score_by_hand():
    """q = 1/2, claimed C = 1 and σC = 2: one step released at 1.0 adds log(1/2 + 1/2 exp((1 - 1/2) / 4)) =
    log(1.066574...) = 0.064452...; one at -2.0 adds log(1/2 + 1/2 exp((-2 - 1/2) / 4)) = log(0.767631...) = -0.264447...;
    the sum score adds the released values themselves."""
    c = WhiteBoxCanaries([(4,)], m=2, clip_norm=1.0, seed=1, claimed_clip=1.0, claimed_noise_std=2.0,
                         sampling_rate=0.5)
    released = np.zeros(4)
    released[c.coordinates] = [1.0, -2.0]
    c.observe([released])
    np.testing.assert_allclose(c.lr_score, [np.log(0.5 + 0.5 * np.exp(0.125)), np.log(0.5 + 0.5 * np.exp(-0.625))],
                               rtol=1e-12)
    assert c.lr_score[0] == pytest.approx(0.0644519, abs=1e-6) and c.lr_score[1] == pytest.approx(-0.2644465, abs=1e-6)
    np.testing.assert_array_equal(c.score, [1.0, -2.0])
    c.observe([released])  # a second step adds the same again
    np.testing.assert_allclose(c.lr_score, 2 * np.array([0.0644519, -0.2644465]), atol=2e-6)
    assert c.record()["lr_score"] == c.lr_score.tolist()
    # no noise claimed: no likelihood ratio, recorded as None
    assert WhiteBoxCanaries([(4,)], m=2, clip_norm=1.0, seed=1, sampling_rate=0.5).record()["lr_score"] is None


def test_canaries_are_drawn_from_the_seed_alone_and_count_the_batch():
    from mia_repro.training.canaries import draw

    c = WhiteBoxCanaries([(3, 5), (7,)], m=6, clip_norm=1.0, seed=9)
    coords, inc = draw(22, 6, 9)
    np.testing.assert_array_equal(c.coordinates, coords)
    np.testing.assert_array_equal(c.included, inc)
    c.add([np.zeros((3, 5)), np.zeros(7)], sampling_rate=1.0)
    assert c.last_hits == int(inc.sum())  # every included canary joins this step's batch
    c.add([np.zeros((3, 5)), np.zeros(7)], sampling_rate=0.0)
    assert c.last_hits == 0
