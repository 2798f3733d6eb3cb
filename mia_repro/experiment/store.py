"""The run's store: every stage's cache entry is read and written here, through :func:`get_or_compute`.

An *entry* is one or more files (:class:`Part`) that hold one computed thing: each part has its path (from
:class:`~mia_repro.experiment.layout.Layout`), the key it must carry (:mod:`mia_repro.experiment.keys`), its
format and its content check.  A part is trusted only if its digest sidecar names that key and matches its
bytes (:mod:`mia_repro.base.cache`) and its check passes; an entry is used only if every part is.  Otherwise
the reason is logged as one line naming the file and the entry is computed again and saved part by part,
atomically, the last part last (a stage lists its marker last, so a killed write leaves no marker of an
entry whose other parts are missing).  Only :class:`~mia_repro.base.cache.CacheEntryError` (absent, damaged,
of another key or content) leads to recomputation; any other error is raised.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from mia_repro.base.cache import CacheEntryError, load_json, load_npz, save_json, save_npz

KINDS = ("json", "npz")  # numbers and text only: loading a cache never runs code (no pickle)


@dataclass(frozen=True)
class Part:
    """One file of a cache entry: ``path``, its ``key``, its ``kind`` (``"json"``: any JSON value,
    ``"npz"``: a dict of arrays) and ``check`` (raises
    ValueError / KeyError / TypeError on content this stage cannot use)."""

    path: Path
    key: str
    kind: str
    check: Callable[[Any], None] | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r}: expected one of {KINDS}")

    def load(self) -> Any:
        """The verified, checked content; :class:`CacheEntryError` (naming the path) otherwise."""
        if not self.path.exists():
            raise CacheEntryError(f"{self.path}: absent")
        reader = {"json": load_json, "npz": load_npz}[self.kind]
        return reader(self.path, key=self.key, check=self.check)

    def save(self, value: Any) -> None:
        """Check ``value`` (what a later run will demand of it), then write it atomically with its sidecar."""
        if self.check is not None:
            self.check(value)
        if self.kind == "json":
            save_json(self.path, value, key=self.key)
        else:
            save_npz(self.path, key=self.key, **value)


def load_entry(parts: Mapping[str, Part], log=print, then: str = "recomputing") -> dict[str, Any] | None:
    """Every part's content, or None when a part is absent (silently) or not usable (logged:
    ``cache entry not usable: <path>: <why>; <then>``)."""
    if not all(p.path.exists() for p in parts.values()):
        return None
    try:
        return {name: part.load() for name, part in parts.items()}
    except CacheEntryError as exc:
        log(f"  cache entry not usable: {exc}; {then}")
        return None


def save_entry(parts: Mapping[str, Part], values: Mapping[str, Any]) -> None:
    """Write every part of an entry, in the order of ``parts``."""
    missing = set(parts) - set(values)
    if missing:
        raise KeyError(f"no value computed for part(s) {sorted(missing)}")
    for name, part in parts.items():
        part.save(values[name])


def get_or_compute(parts: Mapping[str, Part], compute: Callable[[], Mapping[str, Any]], log=print,
                   then: str = "recomputing", check: Callable[[dict[str, Any]], None] | None = None
                   ) -> tuple[dict[str, Any], bool]:
    """``(content, cached)``: the verified entry (``cached`` True), or ``compute()``'s ``{part: value}``,
    saved (:func:`save_entry`) before it is returned.  ``check(content)`` checks the parts against each other
    (a summary against the scores it summarises): a ValueError there is logged and the entry recomputed."""
    found = load_entry(parts, log, then)
    if found is not None and check is not None:
        try:
            check(found)
        except ValueError as exc:
            log(f"  cache entry not usable: {next(reversed(list(parts.values()))).path}: {exc}; {then}")
            found = None
    if found is not None:
        return found, True
    values = dict(compute())
    save_entry(parts, values)
    return {name: values[name] for name in parts}, False
