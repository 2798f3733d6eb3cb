"""``python -m mia_repro.tools.migrate seal FILE [FILE ...]``: seal Stage I model files that have no digest sidecar.

A model file without its sidecar is never trusted by the stages (it is retrained): a deleted sidecar would
otherwise launder any edit.  A file one has reason to trust (copied from a run of one's own, written by an
older version of the package) is sealed here, deliberately: each file must be a readable model file of the
current format whose arrays are finite, named ``<model>-<key>.npz`` as the package names them (the key is
read from the name); the command prints one line per file it sealed and refuses (exit 2) a file that
already has a sidecar or fails a check, sealing nothing in that case.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mia_repro.base.cache import NPZ_DAMAGE, seal, sidecar
from mia_repro.base.errors import MiaReproError

REQUIRED = ("format", "probs", "logits", "true_class", "member", "indices", "pop_logits", "trained_on")


class MigrateError(MiaReproError, ValueError):
    """A file the seal command refuses."""


def key_of(path: Path) -> str:
    """The key in a model file's name ``<model>-<key>.npz``."""
    stem = path.name[:-len(".npz")] if path.name.endswith(".npz") else ""
    name, _, key = stem.rpartition("-")
    if not name or len(key) != 12 or any(c not in "0123456789abcdef" for c in key):
        raise MigrateError(f"{path}: not named <model>-<12-hex key>.npz as the package names model files")
    return key


def check_model_file(path: Path) -> str:
    """The key of a sealable model file; :class:`MigrateError` saying why not otherwise."""
    if not path.is_file():
        raise MigrateError(f"{path}: no such file")
    if sidecar(path).exists():
        raise MigrateError(f"{path}: already has a digest ({sidecar(path).name}); nothing to seal")
    key = key_of(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in REQUIRED if k not in z.files]
            if missing:
                raise MigrateError(f"{path}: not a model file of this format (lacks {', '.join(missing)})")
            if "identity" in z.files:
                import json

                ident = json.loads(str(z["identity"]))
                if not isinstance(ident, dict):
                    raise MigrateError(f"{path}: its identity record is not an object ({type(ident).__name__}): "
                                       f"not a model file the package wrote")
                theirs = ident.get("key")
                if theirs != key:
                    raise MigrateError(f"{path}: its identity says key {theirs}, its name {key}: another model's file")
            for k in ("probs", "logits", "pop_logits"):
                if not np.isfinite(z[k]).all():
                    raise MigrateError(f"{path}: {k} holds NaN or infinite values")
    except MigrateError:
        raise
    except NPZ_DAMAGE as exc:  # a truncated or altered zip, a bad member: what numpy raises on damaged bytes
        raise MigrateError(f"{path}: unreadable ({type(exc).__name__}: {exc}); not sealed") from None
    return key


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mia_repro.tools.migrate", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seal", help="seal model files that have no digest sidecar")
    s.add_argument("files", nargs="+", type=Path)
    a = p.parse_args(argv)
    try:
        keys = [(f, check_model_file(f)) for f in a.files]  # every file checked before any is sealed
    except MigrateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f, key in keys:
        seal(f, key)
        print(f"sealed {f} (key {key})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
