"""Shared fixtures: small synthetic CIFAR-shaped data and tiny configs."""
from __future__ import annotations

import os
import pickle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from mia_repro.attacks.config import AttackConfig
from mia_repro.experiment.config import ExperimentConfig, MitigationConfig, OutputsConfig, PoolConfig
from mia_repro.models.config import ModelConfig
from mia_repro.data.cifar10 import BATCH_FILES


def synthetic_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x uint8 (n, 32, 32, 3) with a weak class signal, y int64 (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 256, (n, 32, 32, 3))
    x[:, :4, :4, 0] = (y[:, None, None] * 25)  # learnable corner patch
    return x.astype(np.uint8), y.astype(np.int64)


def write_official_layout(folder, per_batch: int = 20, seed: int = 0):
    """Write a tiny ``cifar-10-batches-py`` folder (6 batches) like materialize.py does."""
    x, y = synthetic_images(per_batch * 6, seed)
    out = folder / "cifar-10-batches-py"
    out.mkdir(parents=True)
    for i, name in enumerate(BATCH_FILES):
        s = slice(i * per_batch, (i + 1) * per_batch)
        data = x[s].transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        with open(out / name, "wb") as fh:
            pickle.dump({b"data": data, b"labels": [int(v) for v in y[s]], b"batch_label": name.encode()}, fh)
    return out, x, y


def write_tiny_dataset(tmp_path):
    """The tiny dataset (240 records) in ``tmp_path / "data"``; returns (folder, x, y)."""
    return write_official_layout(tmp_path / "data", per_batch=40)


def tiny_config_in(tmp_path) -> ExperimentConfig:
    """The tiny dataset and a tiny config, both under ``tmp_path`` (for module-scoped fixtures)."""
    return make_tiny_config(tmp_path, write_tiny_dataset(tmp_path)[0])


@pytest.fixture
def tiny_dataset(tmp_path):
    """A synthetic official-layout dataset of 240 records; returns (folder, x, y)."""
    return write_tiny_dataset(tmp_path)


@pytest.fixture
def tiny_config(tmp_path, tiny_dataset):
    """An experiment config that trains in seconds on the tiny dataset."""
    return make_tiny_config(tmp_path, tiny_dataset[0])


def in_process_threads(wanted: int = 2) -> int:
    """A thread count with which this process's backend trains: ``wanted`` if the backend can still take it,
    else the count an earlier test file of the same pytest worker started it with.  A config asking for
    another count would train in a worker process of its own, where a test's monkeypatch does not reach."""
    from mia_repro.training.threads import ThreadsError, apply_threads

    try:
        apply_threads(wanted)
        return wanted
    except ThreadsError as exc:
        return exc.current


def make_tiny_config(tmp_path, folder) -> ExperimentConfig:
    """The tiny config with results under ``tmp_path`` and the dataset ``folder``; trains in this process."""
    return ExperimentConfig(
        threads_per_model=in_process_threads(),
        workers=1,  # one model at a time in this process (with 1 thread, the default would be 2 worker processes)
        profile="test",
        sizes=(30, 40),
        n_shadows=2,
        data_path=str(folder.parent),
        results_dir=str(tmp_path / "results"),
        trainer="sequential",
        max_records=240,
        model=ModelConfig(epochs=1, batch_size=16, conv_filters=(4, 4), dense_units=8),
        attack=AttackConfig(C_grid=(1.0, 10.0), gamma_grid=(0.1, 1.0), cv_folds=2, cv_samples=40, fit_samples=60, n_jobs=1),
        mitigation=MitigationConfig(
            sizes=(30,), l2_strengths=(0.0, 1e-3), dropout_rates=(0.0, 0.5), topk=(1,), rounding_decimals=(1,),
            temperatures=(5.0,), aware_sizes=(30,), aware_shadows=2, dp_epsilons=(8.0,), dp_noise_seed="model",
        ),
        outputs=OutputsConfig(population_size=40, augmentations=("hflip", "shift:1:0")),
        pool=PoolConfig(size=40, n_models=4, n_targets=2, population_size=40, reference_counts=(1, 2), sim_targets=2,
                        svm_shadows=2),
    )


@pytest.fixture(scope="session")
def real_data():
    """The folder of the real CIFAR-10 (for tests that run the CLI on it); skips, with the reason, when absent."""
    from mia_repro.data.cifar10 import candidate_dirs, find_batch_dir

    folder = find_batch_dir()
    if folder is None:
        where = ", ".join(str(p) for p in candidate_dirs())
        pytest.skip(f"real CIFAR-10 not found in {where}; run `python ../shared/data/cifar10/materialize.py data/`")
    return folder


# --- the `training` marker, checked: a test that trains a model in this process without the marker fails ---
# Keras's fit / train_on_batch and the DP-SGD step are wrapped as soon as their modules are imported; a test
# not marked `training` that calls one fails, naming the call, so `make test-fast` (-m "not training") stays a
# loop without training.  Training in other processes (the executor's workers, a CLI subprocess) is not seen
# here: those tests are marked by hand.
import importlib.abc  # noqa: E402
import sys  # noqa: E402

_TRAINED: list[str] = []


def _recording(owner, attr: str, what: str) -> None:
    original = getattr(owner, attr)
    if getattr(original, "_records_training", False):
        return

    def wrapped(*args, **kwargs):
        _TRAINED.append(what)
        return original(*args, **kwargs)

    wrapped._records_training = True
    setattr(owner, attr, wrapped)


def _patch(name: str, module) -> None:
    if name == "keras":
        _recording(module.Model, "fit", "keras.Model.fit")
        _recording(module.Model, "train_on_batch", "keras.Model.train_on_batch")
    elif name == "mia_repro.training.dp_sgd":
        _recording(module.DPStep, "__call__", "a DP-SGD step")


class _TrainingWatch(importlib.abc.MetaPathFinder):
    """Patches a watched module right after it executes (before an importer binds its names)."""

    WATCHED = ("keras", "mia_repro.training.dp_sgd")

    def find_spec(self, name, path, target=None):
        if name not in self.WATCHED:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, name)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    """``loader`` that patches the module (:func:`_patch`) once it has executed."""

    def __init__(self, loader, name: str):
        self.loader, self.name = loader, name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _patch(self.name, module)


for _name in _TrainingWatch.WATCHED:
    if _name in sys.modules:
        _patch(_name, sys.modules[_name])
sys.meta_path.insert(0, _TrainingWatch())


def pytest_collection_modifyitems(config, items):
    """A test that reads the session's tiny complete run depends on its training: it is a `training` test."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.training)


def _watch_training(item, where: str):
    """Hook wrapper body: fail ``item`` if the phase it wraps trained a model and the test is not marked."""
    del _TRAINED[:]
    outcome = yield
    if _TRAINED and item.get_closest_marker("training") is None and outcome.excinfo is None:
        pytest.fail(f"{item.nodeid}{where} trains a model ({_TRAINED[0]}, {len(_TRAINED)} call(s)) but is not marked "
                    f"`training`: mark it (`@pytest.mark.training`), or give it seeded fake outputs", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _watch_training(item, "")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Training in a fixture counts for the test that asked for it (a module fixture: its first test)."""
    yield from _watch_training(item, ": a fixture it uses")


# --- the tiny complete run, trained once per test session (shared by the pytest-xdist workers) ---
def _shared_root(tmp_path_factory):
    """A folder every xdist worker of this session sees (the workers' common base), else this run's base."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Folder of the tiny config's complete run -- Stage I, Stage II, the comparison and the mitigation sweep --
    built by the first worker that asks (the others wait on a file lock) and never written again: tests take
    a copy (:func:`copy_of_tiny_run`)."""
    import fcntl

    from mia_repro.experiment.stages.compare import run_compare
    from mia_repro.experiment.stages.mitigation import run_mitigation
    from mia_repro.experiment.stages.stage1 import run_stage1
    from mia_repro.experiment.stages.stage2 import run_stage2

    root = _shared_root(tmp_path_factory) / "tiny-run"
    with open(f"{root}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "complete").exists():
            import shutil

            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            cfg = tiny_config_in(root)
            for stage in (run_stage1, run_stage2, run_compare, run_mitigation):
                stage(cfg, log=lambda *_: None)
            (root / "complete").write_text(str(cfg.threads_per_model))
    return root


def copy_of_tiny_run(tiny_run, dest) -> ExperimentConfig:
    """The tiny config reading the session's dataset, with a private copy of the complete run's results in
    ``dest / "results"``: a test may rerun, damage or extend it."""
    import dataclasses
    import shutil

    shutil.copytree(tiny_run / "results", dest / "results")
    cfg = make_tiny_config(dest, tiny_run / "data" / "cifar-10-batches-py")
    # the threads that trained it, so a model retrained here has the same bits
    return dataclasses.replace(cfg, threads_per_model=int((tiny_run / "complete").read_text()))


@pytest.fixture
def trained_config(tiny_run, tmp_path):
    """The tiny config with a private copy of the complete run (its Stage I models trained, nothing to train)."""
    return copy_of_tiny_run(tiny_run, tmp_path)
