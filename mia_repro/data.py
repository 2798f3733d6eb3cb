"""CIFAR-10, pooled train+test, in the official order.

``load_cifar10()`` reads the official python layout ``cifar-10-batches-py/``
(``data_batch_1..5`` then ``test_batch``) and returns 60,000 records:
rows 0..49999 are the training batches, 50000..59999 the test batch.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from .config import PROJECT_ROOT

BATCH_DIR = "cifar-10-batches-py"
BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MATERIALIZE_HINT = "python ../shared/data/cifar10/materialize.py data/"


class DatasetNotFoundError(FileNotFoundError):
    """CIFAR-10 was found nowhere; the message says where we looked and what to do."""


def candidate_dirs(path: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for ``cifar-10-batches-py/``, in order.

    ``path`` may name the batch folder itself or its parent.
    """
    dirs = []
    if path is not None:
        dirs.append(Path(path))
    env = os.environ.get("MIA_REPRO_DATA")
    if env:
        dirs.append(Path(env))
    dirs.append(PROJECT_ROOT / "data")
    return dirs


def _batch_dir(base: Path) -> Path | None:
    for cand in (base, base / BATCH_DIR):
        if all((cand / f).is_file() for f in BATCH_FILES):
            return cand
    return None


def missing_report(base: Path) -> str:
    """What keeps ``base`` (or ``base/cifar-10-batches-py``) from being a complete CIFAR-10 folder."""
    if not base.exists():
        return "no such folder"
    for cand in (base / BATCH_DIR, base):
        if cand.is_dir() and any((cand / f).exists() for f in BATCH_FILES):
            missing = [f for f in BATCH_FILES if not (cand / f).is_file()]
            return f"{cand} lacks {', '.join(missing)}"
    return f"neither {base} nor {base / BATCH_DIR} holds the batch files ({', '.join(BATCH_FILES)})"


def find_batch_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The first complete ``cifar-10-batches-py`` folder among :func:`candidate_dirs`, or None."""
    for base in candidate_dirs(path):
        found = _batch_dir(base)
        if found is not None:
            return found
    return None


def read_batches(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an official ``cifar-10-batches-py`` folder.

    Returns ``x`` uint8 (60000, 32, 32, 3) and ``y`` int64 (60000,).
    """
    xs, ys = [], []
    for name in BATCH_FILES:
        with open(Path(folder) / name, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _keras_download() -> tuple[np.ndarray, np.ndarray]:
    import keras

    (x_tr, y_tr), (x_te, y_te) = keras.datasets.cifar10.load_data()
    x = np.concatenate([x_tr, x_te]).astype(np.uint8)
    y = np.concatenate([y_tr.reshape(-1), y_te.reshape(-1)]).astype(np.int64)
    return x, y


def load_cifar10(path: str | os.PathLike | None = None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 train+test pooled: ``x`` uint8 (60000, 32, 32, 3), ``y`` int64 (60000,).

    Looks for the official layout in: ``path``, ``$MIA_REPRO_DATA``, the
    project's ``data/`` folder; only if none has it, Keras' own download.
    Raises :class:`DatasetNotFoundError` with instructions if all fail.
    """
    if path is not None:  # a path the user names is used or rejected, never replaced
        found = _batch_dir(Path(path))
        if found is None:
            raise DatasetNotFoundError(f"--data {path}: {missing_report(Path(path))}. Point --data at the folder that "
                                       f"holds cifar-10-batches-py/ (or at that folder), or run `{MATERIALIZE_HINT}`")
        return read_batches(found)
    tried = candidate_dirs(path)
    found = find_batch_dir(path)
    if found is not None:
        return read_batches(found)
    error = "download disabled"
    if download:
        try:
            return _keras_download()
        except Exception as exc:  # offline, blocked, corrupt archive ...
            error = f"{type(exc).__name__}: {exc}"
    places = "\n".join(f"  - {p}/{BATCH_DIR}" for p in tried)
    raise DatasetNotFoundError(
        "CIFAR-10 not found. Looked for the official 'cifar-10-batches-py' folder in\n"
        f"{places}\n"
        "(the path argument / --data, the MIA_REPRO_DATA variable, the project's data/ folder)\n"
        f"and Keras' download failed ({error}).\n"
        f"Fix: run `{MATERIALIZE_HINT}` (or `make data`), or point --data / MIA_REPRO_DATA "
        "at a folder that holds cifar-10-batches-py/."
    )


SHARED_SHARDS = PROJECT_ROOT.parent / "shared" / "data" / "cifar10"


def ensure_dataset(dest: str | os.PathLike = PROJECT_ROOT / "data", shards: Path = SHARED_SHARDS) -> str:
    """Make sure the official layout is available; returns a one-line report.

    Uses an existing copy (path search of :func:`load_cifar10`), else runs
    ``materialize.py`` from ``shards`` into ``dest``, else tries Keras'
    download; raises :class:`DatasetNotFoundError` (the stages' message) when
    all fail.
    """
    import subprocess
    import sys

    found = find_batch_dir()
    if found is not None:
        return f"CIFAR-10 found in {found}"
    script = Path(shards) / "materialize.py"
    if script.exists():
        subprocess.run([sys.executable, str(script), str(dest)], check=True, stdout=subprocess.DEVNULL)
        return f"CIFAR-10 materialized from {shards} into {Path(dest) / BATCH_DIR}"
    load_cifar10()  # Keras' download, or DatasetNotFoundError saying where we looked
    return "CIFAR-10 downloaded by Keras (keras.datasets.cifar10)"


def to_model_input(x: np.ndarray, scale: bool = True) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) -> float32 model input, in [0, 1] when ``scale``."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {x.shape}")
    out = x.astype(np.float32)
    if scale:
        out /= 255.0
    return out
