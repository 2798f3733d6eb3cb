"""The `training` marker is checked (tests/conftest.py): a test that calls Keras's fit or a DP-SGD step without
the marker fails naming the call; with it, it passes.  What `make test-fast` leaves out rests on this."""
import types

import pytest

import conftest


class _Item:
    nodeid = "tests/probe.py::test_probe"

    def __init__(self, marked: bool):
        self.marked = marked

    def get_closest_marker(self, name):
        return object() if self.marked and name == "training" else None


def _run_hook(item, trains: bool) -> None:
    gen = conftest.pytest_runtest_call(item)
    next(gen)
    if trains:
        conftest._TRAINED.append("keras.Model.fit")
    with pytest.raises(StopIteration):
        gen.send(types.SimpleNamespace(excinfo=None))


def test_the_watched_calls_are_recorded_once_and_still_run():
    class Model:
        def fit(self, x):
            return x + 1

        def train_on_batch(self, x):
            return x - 1

    fake = types.SimpleNamespace(Model=Model)
    conftest._patch("keras", fake)
    conftest._patch("keras", fake)  # a second patch does not wrap twice
    del conftest._TRAINED[:]
    assert Model().fit(1) == 2 and Model().train_on_batch(1) == 0
    assert conftest._TRAINED == ["keras.Model.fit", "keras.Model.train_on_batch"]
    del conftest._TRAINED[:]


def test_training_without_the_marker_fails_naming_the_call_and_with_it_passes():
    with pytest.raises(pytest.fail.Exception, match=r"probe.py::test_probe trains a model \(keras.Model.fit, 1 call"):
        _run_hook(_Item(marked=False), trains=True)
    _run_hook(_Item(marked=True), trains=True)
    _run_hook(_Item(marked=False), trains=False)
    del conftest._TRAINED[:]
