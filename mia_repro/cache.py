"""Atomic on-disk caching: a stage output is either complete or absent.

Every writer goes through :func:`atomic_write`: the data is written to a
temporary file beside the target and renamed over it, so an interrupted run
never leaves a half-written file that a later run would trust.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temp file, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def copy_file(src: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Atomically copy ``src`` to ``dest`` byte for byte."""
    data = Path(src).read_bytes()
    return atomic_write(dest, lambda fh: fh.write(data))


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Atomically write ``arrays`` to a compressed ``.npz`` file."""
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into a dict."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def save_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default)
    return atomic_write(path, lambda fh: fh.write(text + "\n"), mode="w")


def load_json(path: str | os.PathLike) -> Any:
    with open(path) as fh:
        return json.load(fh)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
