"""One run at a time per results folder: a lock file naming its holder, and writes kept inside the folder.

A stage (:func:`exclusive`) holds ``<folder>/.mia_repro.lock`` for its results folder and its Stage I folder
while it runs: a JSON object with the holder's ``pid``, ``host``, ``command`` and ``since`` (UTC).  A second
run on the same folder is refused with one line naming the holder (:class:`ResultsInUseError`), before it
trains anything.  A lock whose process has ended (same host, no such pid) is stale: it is taken over and
said so.  A process holds a folder's lock once however many stages it nests (``all``, the notebooks' kernels
one after another).  While held, :func:`mia_repro.base.cache.confined` refuses writes through a symbolic link
inside the folders.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import sys
import time
from pathlib import Path

from mia_repro.base.cache import confined
from mia_repro.base.errors import MiaReproError

LOCK_NAME = ".mia_repro.lock"

_held: dict[str, int] = {}  # folder (absolute) -> how many nested holds of this process


class ResultsInUseError(MiaReproError):
    """Another run holds the results folder; the message names it and what to do."""


def lock_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / LOCK_NAME


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock file's record, or None when it is gone; a record that cannot be read counts as stale."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": None, "host": socket.gethostname(), "command": "(unreadable lock file)", "since": "?"}
    return record if isinstance(record, dict) else {"pid": None, "host": socket.gethostname()}


def _stale(record: dict) -> bool:
    """Whether ``record``'s run has ended: on this host, its pid gone, or this very pid (a restarted machine's
    reused number) without this process holding the lock."""
    if record.get("host") != socket.gethostname():
        return False  # cannot tell: another machine's run
    pid = record.get("pid")
    return not isinstance(pid, int) or pid == os.getpid() or not _alive(pid)


def acquire(folder: str | os.PathLike, log=print) -> None:
    """Create ``folder``'s lock file for this process, taking over a stale one (logged);
    :class:`ResultsInUseError` when a live run holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(folder)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv) or sys.executable,
              "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            other = _holder(path)
            if other is None:
                continue  # released meanwhile
            if not _stale(other):
                where = "" if other.get("host") == socket.gethostname() else f" on host {other.get('host')}"
                raise ResultsInUseError(
                    f"{folder} is in use by another run (pid {other.get('pid')}{where}, `{other.get('command')}`, "
                    f"since {other.get('since')}): wait for it to end, or stop it, then rerun"
                    + ("" if not where else f"; if it has ended, delete {path}")) from None
            log(f"  taking over the lock of a run that has ended (pid {other.get('pid')}, since "
                f"{other.get('since')}): {path}")
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record) + "\n")
        return
    raise ResultsInUseError(f"{folder}: could not take its lock {path} (another run is starting?); rerun")


def release(folder: str | os.PathLike) -> None:
    """Remove ``folder``'s lock file if it is still this process's."""
    path = lock_path(folder)
    record = _holder(path)
    if record is not None and record.get("pid") == os.getpid() and record.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def holding(*folders: str | os.PathLike, log=print):
    """Hold the lock of each of ``folders`` (nested holds of one process count once) and confine writes
    below them (:func:`mia_repro.base.cache.confined`) while inside."""
    keys = list(dict.fromkeys(os.path.abspath(f) for f in folders))
    taken = []
    try:
        for key in keys:
            if _held.get(key, 0) == 0:
                acquire(key, log)
                taken.append(key)
            _held[key] = _held.get(key, 0) + 1
        with confined(*keys):
            yield
    finally:
        for key in keys:
            if key in _held:
                _held[key] -= 1
                if _held[key] == 0:
                    del _held[key]
                    if key in taken:
                        release(key)


def run_folders(cfg) -> tuple[Path, Path]:
    """The folders a run of ``cfg`` writes: its results folder and its Stage I folder."""
    return cfg.layout.output_dir, cfg.layout.stage1_root


def exclusive(stage):
    """Decorate a stage ``stage(cfg, ...)``: it runs holding ``cfg``'s :func:`run_folders` (:func:`holding`)."""
    @functools.wraps(stage)
    def run(cfg, *args, **kwargs):
        with holding(*run_folders(cfg), log=kwargs.get("log") or print):
            return stage(cfg, *args, **kwargs)
    return run
