import numpy as np
import pytest

from mia_repro.data.splits import make_splits


@pytest.mark.parametrize("size,n_shadows,seed", [(10, 3, 0), (25, 5, 7), (50, 10, 1), (60, 4, 2)])
def test_split_properties(size, n_shadows, seed):
    n_total = 240
    s = make_splits(n_total, size, n_shadows, seed)
    target = np.concatenate([s.target.members, s.target.nonmembers])
    assert len(s.target.members) == len(s.target.nonmembers) == size
    assert len(np.unique(target)) == 2 * size
    assert len(s.shadows) == n_shadows
    for sh in s.shadows:
        assert len(sh.members) == len(sh.nonmembers) == size
        assert not np.intersect1d(sh.members, sh.nonmembers).size, "members and non-members overlap"
        assert not np.intersect1d(np.concatenate([sh.members, sh.nonmembers]), target).size, "shadow uses target data"
        assert np.isin(sh.members, s.pool).all() and np.isin(sh.nonmembers, s.pool).all()
    assert np.all((target >= 0) & (target < n_total))


def test_same_seed_same_indices_other_seed_other_indices():
    a, b, c = make_splits(1000, 100, 3, 5), make_splits(1000, 100, 3, 5), make_splits(1000, 100, 3, 6)
    np.testing.assert_array_equal(a.target.members, b.target.members)
    for x, y in zip(a.shadows, b.shadows):
        np.testing.assert_array_equal(x.members, y.members)
        np.testing.assert_array_equal(x.nonmembers, y.nonmembers)
    assert not np.array_equal(a.target.members, c.target.members)


def test_adding_shadows_keeps_existing_ones():
    a, b = make_splits(1000, 100, 2, 0), make_splits(1000, 100, 5, 0)
    for x, y in zip(a.shadows, b.shadows):
        np.testing.assert_array_equal(x.members, y.members)


def test_paper_sizes_fit_cifar10():
    s = make_splits(60000, 15000, 2, 0)
    assert len(s.pool) == 30000


def test_too_large_size_is_a_clear_error():
    with pytest.raises(ValueError, match="at most 15000"):
        make_splits(60000, 15001, 10, 0)
