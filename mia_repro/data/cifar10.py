"""CIFAR-10, pooled train+test, in the official order.

``load_cifar10()`` reads the official python layout ``cifar-10-batches-py/``
(``data_batch_1..5`` then ``test_batch``) and returns 60,000 records:
rows 0..49999 are the training batches, 50000..59999 the test batch.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

from mia_repro.base.paths import PROJECT_ROOT
from mia_repro.base.errors import MiaReproError, MiaReproInputError

BATCH_DIR = "cifar-10-batches-py"
BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MATERIALIZE_HINT = "python ../shared/data/cifar10/materialize.py data/"


class DatasetNotFoundError(MiaReproError, FileNotFoundError):
    """CIFAR-10 was found nowhere; the message says where we looked and what to do."""


class DatasetCorruptError(MiaReproInputError):
    """A CIFAR-10 file is damaged or its pixels are not the official ones; the message names the file or check."""


class InputError(MiaReproInputError):
    """Arrays passed to a library function have the wrong dtype, range or shape; the message says what to pass."""


# SHA-256 of the decoded arrays (uint8, N x 32 x 32 x 3, official order): ../shared/data/cifar10/README.md
CONTENT_SHA256 = {
    "x_train": "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
    "x_test": "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
}
RESTORE_HINT = f"delete the folder and run `{MATERIALIZE_HINT}` (or `make data`) to restore it"


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


def named_batch_dir(path: str | os.PathLike) -> Path:
    """The batch folder at a path the user named (``--data``): used or rejected, never replaced by another;
    :class:`DatasetNotFoundError` saying what is missing there."""
    found = _batch_dir(Path(path))
    if found is None:
        raise DatasetNotFoundError(f"--data {path}: {missing_report(Path(path))}. Point --data at the folder that "
                                   f"holds cifar-10-batches-py/ (or at that folder), or run `{MATERIALIZE_HINT}`")
    return found


def find_batch_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The first complete ``cifar-10-batches-py`` folder among :func:`candidate_dirs`, or None."""
    for base in candidate_dirs(path):
        found = _batch_dir(base)
        if found is not None:
            return found
    return None


#: the only globals an official CIFAR-10 batch refers to: numpy's array reconstruction (both numpy layouts)
BATCH_GLOBALS = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                           ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")})


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a batch file without running code: any global but :data:`BATCH_GLOBALS` is refused (a pickle
    can name any callable, and it would be called while loading, before any content check)."""

    def find_class(self, module, name):
        if (module, name) not in BATCH_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> ``x`` uint8 (N, 32, 32, 3), ``y`` int64 (N,); :class:`DatasetCorruptError` naming ``path``
    if it does not unpickle (with :class:`_BatchUnpickler`: no code runs) or lacks ``data`` (N, 3072) uint8 and N
    labels in 0..9."""
    try:
        with open(path, "rb") as fh:
            batch = _BatchUnpickler(fh, encoding="bytes").load()
        data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    except Exception as exc:  # UnpicklingError, EOFError, MemoryError, KeyError, TypeError ... from a damaged file
        raise DatasetCorruptError(f"{path}: not a CIFAR-10 batch ({type(exc).__name__}); {RESTORE_HINT}") from None
    data = np.asarray(data)
    ok = (data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072 and labels.shape == (len(data),)
          and np.issubdtype(labels.dtype, np.integer) and len(data) > 0 and labels.min() >= 0 and labels.max() <= 9)
    if not ok:
        raise DatasetCorruptError(f"{path}: expected 'data' (N, 3072) uint8 and N labels in 0..9, got data "
                                  f"{data.dtype} {data.shape} and labels {labels.shape}; {RESTORE_HINT}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def read_batches(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an official ``cifar-10-batches-py`` folder, checking every file as it is read.

    Returns ``x`` uint8 (60000, 32, 32, 3) and ``y`` int64 (60000,).  A folder
    of the official size is also checked against the content checksums
    (:data:`CONTENT_SHA256`, the decoded pixels: a re-pickled copy with the same
    pixels passes); a mismatch is a :class:`DatasetCorruptError` naming the check.
    """
    parts = [read_batch(Path(folder) / name) for name in BATCH_FILES]
    x = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    y = np.concatenate([p[1] for p in parts])
    if len(x) == 60000:
        for name, arr in (("x_train", x[:50000]), ("x_test", x[50000:])):
            digest = hashlib.sha256(arr.tobytes()).hexdigest()
            if digest != CONTENT_SHA256[name]:
                raise DatasetCorruptError(f"{folder}: SHA-256 of the decoded {name} is {digest[:16]}..., not the "
                                          f"official {CONTENT_SHA256[name][:16]}... (pixels differ); {RESTORE_HINT}")
    return x, y


def _keras_download() -> tuple[np.ndarray, np.ndarray]:
    from mia_repro.base.quiet import keras

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
        return read_batches(named_batch_dir(path))
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
    """uint8 images (N, 32, 32, 3) -> float32 model input, in [0, 1] when ``scale``.

    Anything but uint8 is an :class:`InputError`: float images may already be
    scaled, and dividing them by 255 again would train on black images.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise InputError(f"expected images of shape (N, H, W, C), got {x.shape}")
    if x.dtype != np.uint8:
        rng = f" with values in [{x.min():.3g}, {x.max():.3g}]" if x.size and np.issubdtype(x.dtype, np.number) else ""
        raise InputError(f"expected uint8 images (0..255), got {x.dtype}{rng}; pass the raw CIFAR-10 pixels "
                         "(e.g. load_cifar10()'s x), not scaled floats")
    out = x.astype(np.float32)
    if scale:
        out /= 255.0
    return out
