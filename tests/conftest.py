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
