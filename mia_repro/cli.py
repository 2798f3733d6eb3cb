"""``python -m mia_repro STAGE --profile NAME [--data PATH] [--seed N]``.

Stages: ``data`` (find or materialize CIFAR-10), ``stage1`` (train target and shadows), ``stage2`` (attack, summary,
figures), ``mitigation`` (defenses), ``all`` (the three in order).  Every
stage reuses the caches of the earlier ones.  Errors a user can fix (unknown
profile, missing dataset, Stage I not run) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import sys

from .config import PROFILES, ConfigError, get_config
from .data import DatasetNotFoundError

STAGES = ("data", "stage1", "stage2", "mitigation", "all")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mia_repro", description=__doc__.split("\n\n")[0])
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    p.add_argument("--data", default=None, help="folder holding cifar-10-batches-py/ (or that folder)")
    p.add_argument("--seed", type=int, default=None, help="split and training seed (default: the profile's)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="training sizes (default: the profile's)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the profile's)")
    p.add_argument("--trainer", choices=("auto", "stacked", "sequential"), default=None)
    p.add_argument("--results-dir", default=None, help="output folder (default results/<profile>/)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="show Keras' epoch bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = get_config(
            args.profile,
            data_path=args.data,
            seed=args.seed,
            sizes=args.sizes,
            epochs=args.epochs,
            trainer=args.trainer,
            results_dir=args.results_dir,
        )
        verbose = 2 if args.verbose else 0
        if args.stage == "data":
            from .data import ensure_dataset

            print(ensure_dataset())
        if args.stage in ("stage1", "all"):
            from .stage1 import run_stage1

            run_stage1(cfg, verbose=verbose)
        if args.stage in ("stage2", "all"):
            from .stage2 import run_stage2

            run_stage2(cfg)
        if args.stage in ("mitigation", "all"):
            from .mitigation import run_mitigation

            run_mitigation(cfg, verbose=verbose)
    except (ConfigError, DatasetNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Stage1Error and friends: one clear line, no traceback
        from .stage1 import Stage1Error

        if isinstance(exc, Stage1Error):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return 0
