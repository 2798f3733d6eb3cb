"""On-disk caching: a stage output is either complete and verified, or recomputed.

Every writer goes through :func:`atomic_write`: the data is written to a
temporary file beside the target and renamed over it, so an interrupted run
never leaves a half-written file that a later run would trust.

A cache *entry* is trusted by its content, not its name.  Writers that pass a
``key`` (the hash of everything the entry depends on, the same one its file
name carries) also write a sidecar ``<file>.digest.json`` holding that key and
the SHA-256 of the file's bytes.  Readers that pass the key they expect get
the content only if the sidecar exists, names that key, and matches the bytes;
then the reader's own ``check`` (shapes, fields) runs.  Anything else raises
:class:`CacheEntryError` naming the path and what is wrong, and the stage
recomputes the entry.  So an edited file, a file copied over another, or one
copied with its sidecar under another key's name never reaches the results.
:func:`seal` adds the sidecar to a file that predates it, after the caller
checked its content (how committed Stage I caches migrate, never retrained).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
from mia_repro.base.environment import setenv
from mia_repro.base.errors import MiaReproInputError

SIDECAR = ".digest.json"

#: what reading a damaged ``.npz`` raises (a truncated or altered zip, a bad member, a compressed stream cut short)
NPZ_DAMAGE = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError)


class CacheEntryError(MiaReproInputError):
    """A cache file that cannot be used (unreadable, no or another key, content changed, wrong shape);
    the message names the path.  The stage that reads it recomputes the entry."""


def sidecar(path: str | os.PathLike) -> Path:
    """Where ``path``'s key and digest live: ``<file>.digest.json`` beside it."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR)


def seal(path: str | os.PathLike, key: str) -> Path:
    """Write ``path``'s sidecar: ``key`` and the SHA-256 of its bytes as they are on disk now."""
    data = Path(path).read_bytes()
    text = json.dumps({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, indent=2)
    return atomic_write(sidecar(path), lambda fh: fh.write(text + "\n"), mode="w")


def verified_bytes(path: str | os.PathLike, key: str) -> bytes:
    """The bytes of ``path`` if its sidecar names ``key`` and their digest; :class:`CacheEntryError` otherwise."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CacheEntryError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(sidecar(path).read_text())
        stored_key, digest = meta["key"], meta["sha256"]
    except FileNotFoundError:
        raise CacheEntryError(f"{path}: no digest beside it (written before entries were verified, or "
                              "its write was interrupted)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CacheEntryError(f"{path}: its digest file is damaged ({type(exc).__name__}: {exc})") from None
    if stored_key != key:
        raise CacheEntryError(f"{path}: written for another key ({stored_key}, expected {key}): copied or renamed?")
    if hashlib.sha256(data).hexdigest() != digest:
        raise CacheEntryError(f"{path}: content changed since it was written (digest mismatch)")
    return data


def _checked(path: Path, value: Any, check: Callable[[Any], None] | None) -> Any:
    if check is not None:
        try:
            check(value)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise CacheEntryError(f"{path}: not what this stage expects ({type(exc).__name__}: {exc})") from None
    return value


#: the environment variable naming the folders whose writes :func:`confined` guards (inherited by workers)
WRITE_ROOTS = "MIA_REPRO_WRITE_ROOTS"


class WriteRefusedError(MiaReproInputError):
    """A write the package will not make: into a folder, or through a symbolic link inside a results folder."""


@contextlib.contextmanager
def confined(*roots: str | os.PathLike):
    """While inside, :func:`atomic_write` refuses to write below one of ``roots`` (a run's results folder, its
    Stage I folder) through a symbolic link: a linked subfolder would put the run's files somewhere else.
    The roots themselves may be links.  Set in the environment, so that worker processes started inside
    inherit it; nested calls add roots."""
    before = os.environ.get(WRITE_ROOTS)
    with setenv(WRITE_ROOTS, os.pathsep.join(([before] if before else []) + [os.path.abspath(r) for r in roots])):
        yield


def check_writable(path: str | os.PathLike) -> Path:
    """``path`` if a file may be written there: :class:`WriteRefusedError` when it is a folder, or when a
    folder between a :func:`confined` root and it is a symbolic link."""
    path = Path(os.path.abspath(path))
    if path.is_dir() and not path.is_symlink():
        raise WriteRefusedError(f"{path} is a folder where a file is written: move it away and rerun")
    for root in filter(None, os.environ.get(WRITE_ROOTS, "").split(os.pathsep)):
        try:
            below = path.parent.relative_to(root)
        except ValueError:
            continue
        here = Path(root)
        for part in below.parts:
            here = here / part
            if here.is_symlink():
                raise WriteRefusedError(f"{here} is a symbolic link (to {os.readlink(here)}): no stage writes through "
                                        f"a link inside its results folder {root}; replace the link by a folder "
                                        f"and rerun")
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temp file, then rename it to ``path`` (:func:`check_writable` first)."""
    check_writable(path)
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


def _sealed(path: Path, key: str | None) -> Path:
    if key is not None:
        seal(path, key)
    return path


def save_npz(path: str | os.PathLike, key: str | None = None, **arrays: np.ndarray) -> Path:
    """Atomically write ``arrays`` to a compressed ``.npz`` file (and its sidecar when ``key`` is given)."""
    return _sealed(atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays)), key)


def load_npz(path: str | os.PathLike, key: str | None = None,
             check: Callable[[dict], None] | None = None) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file; with ``key``, only after :func:`verified_bytes`, then ``check``."""
    path = Path(path)
    source = io.BytesIO(verified_bytes(path, key)) if key is not None else path
    try:
        with np.load(source, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except NPZ_DAMAGE as exc:  # what numpy raises on damaged bytes; anything else is a bug and is raised
        raise CacheEntryError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    return _checked(path, arrays, check)


def save_json(path: str | os.PathLike, obj: Any, key: str | None = None) -> Path:
    """Atomically write ``obj`` as indented JSON (and its sidecar when ``key`` is given)."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default)
    return _sealed(atomic_write(path, lambda fh: fh.write(text + "\n"), mode="w"), key)


def load_json(path: str | os.PathLike, key: str | None = None, check: Callable[[Any], None] | None = None) -> Any:
    """The JSON in ``path``; with ``key``, only after :func:`verified_bytes`, then ``check``."""
    path = Path(path)
    if key is None:
        with open(path) as fh:
            return json.load(fh)
    data = verified_bytes(path, key)
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise CacheEntryError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    return _checked(path, obj, check)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
