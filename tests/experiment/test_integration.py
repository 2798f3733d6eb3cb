"""The real CIFAR-10 as the package reads it (skipped, with the reason, when absent).  The stages end to end on it:
the CI job's smoke reproduction (`.ci/run`); on synthetic data: the session's tiny complete run (tests/conftest.py)."""
import pytest

from mia_repro.data.cifar10 import DatasetNotFoundError, candidate_dirs, load_cifar10


@pytest.fixture(scope="module")
def cifar():
    try:
        return load_cifar10(download=False)
    except DatasetNotFoundError:
        where = ", ".join(str(p) for p in candidate_dirs())
        pytest.skip(f"real CIFAR-10 not found in {where}; run `python ../shared/data/cifar10/materialize.py data/`")


@pytest.mark.integration
def test_real_cifar10_is_official(cifar):
    x, y = cifar
    assert x.shape == (60000, 32, 32, 3) and y.shape == (60000,)
    assert list(y[:10]) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # data_batch_1
    assert y[50000] == 3  # first test image is a cat
    assert abs(x[:50000, ..., 0].mean() - 125.307) < 0.01
