"""``python -m mia_repro STAGE --profile NAME [--data PATH] [--seed N] [--seeds N N ...]``.

Stages: ``data`` (find or materialize CIFAR-10), ``stage1`` (train target and
shadows), ``stage2`` (attack, summary, figures), ``compare`` (every attack of
mia_repro.attacks on the same target), ``mitigation`` (defenses), ``pool`` (a pool of
reference models: online and offline LiRA and RMIA, leave-one-out), ``audit`` (the one-run canary
audit of DP-SGD, broken trainers included), ``all`` (stage1, stage2, compare, mitigation in order;
``pool`` and ``audit`` run on their own).  Every stage reuses the caches
of the earlier ones.  ``--seeds`` runs stage1, stage2 and compare once per seed
and writes the spread.  Errors a user can fix print one line and exit 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import sys
from pathlib import Path

from mia_repro.experiment.profiles import PROFILES, get_config, profile_note
from mia_repro.base.errors import ConfigError
from mia_repro.base.errors import MiaReproError

STAGES = ("data", "stage1", "stage2", "compare", "mitigation", "pool", "audit", "all")


EXAMPLES = """examples:
  python -m mia_repro all --profile quick                                  # the committed quick run
  python -m mia_repro mitigation --profile quick --l2 0.001 0.01           # an L2-only sweep
  python -m mia_repro mitigation --profile quick --dp-epsilons 2 8         # a DP-SGD-only sweep
  python -m mia_repro compare --profile quick --attacks lira_offline rmia_offline loss_threshold
  python -m mia_repro all --profile quick --sizes 2500 --epochs 15 --shadows 4
  python -m mia_repro all --profile quick --config exp.toml                # every setting from a TOML file
  python -m mia_repro all --profile quick --sizes 2500 --seeds 0 1 2       # the seed-to-seed spread
  python -m mia_repro stage1 --profile paper --workers 8 --threads-per-model 2
  python -m mia_repro all --profile quick --scheduler tcp://head:8786      # on a Dask cluster
A run whose settings differ from its profile's writes to results/<profile>-<changed settings>-<key>/."""


def _attack_names() -> list[str]:
    from mia_repro.attacks import ATTACKS

    return list(ATTACKS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mia_repro", description=__doc__.split("\n\n")[0], epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    p.add_argument("--data", default=None, help="folder holding cifar-10-batches-py/ (or that folder)")
    p.add_argument("--seed", type=int, default=None, help="split and training seed (default: the profile's)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="run stage1, stage2 and compare for each seed; spread in <results>/seeds/seeds.json")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="training sizes (default: the profile's)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the profile's)")
    p.add_argument("--shadows", type=int, default=None, help="shadow models per size (default: the profile's)")
    p.add_argument("--attacks", nargs="+", default=None, metavar="NAME",
                   help="the attacks the compare stage runs (default every one): " + ", ".join(_attack_names()))
    p.add_argument("--attack-module", nargs="+", default=None, metavar="MODULE",
                   help="import these modules (dotted names or .py files) first: attacks they register "
                        "(mia_repro.attacks.register) can be named in --attacks")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a TOML file of settings: top-level fields and [model] [attack] [mitigation] [outputs] [pool] "
                        "[audit] tables, e.g. '[mitigation]\\nl2_strengths = [0.001, 0.01]' (flags win over it)")
    sweep = p.add_argument_group("the mitigation sweep (once any is given, the sweep is exactly the defenses given; "
                                 "example: mitigation --profile quick --l2 0.001 0.01)")
    sweep.add_argument("--l2", type=float, nargs="+", default=None, metavar="S", help="L2 strengths")
    sweep.add_argument("--dropout", type=float, nargs="+", default=None, metavar="R", help="dropout rates")
    sweep.add_argument("--dp-epsilons", type=float, nargs="+", default=None, metavar="EPS", help="DP-SGD target ε")
    sweep.add_argument("--topk", type=int, nargs="+", default=None, metavar="K", help="top-k output defense")
    sweep.add_argument("--rounding", type=int, nargs="+", default=None, metavar="D", help="rounding to D decimals")
    sweep.add_argument("--temperatures", type=float, nargs="+", default=None, metavar="T", help="softmax temperatures")
    p.add_argument("--trainer", choices=("auto", "stacked", "sequential"), default=None)
    p.add_argument("--steps-per-execution", type=int, default=None,
                   help="training steps per call into the backend (default: 1 one model at a time, 8 stacked on JAX); "
                        "changes speed, not results")
    p.add_argument("--workers", type=int, default=None,
                   help="models trained at once (default: cores // threads per model; with --scheduler local: its processes)")
    p.add_argument("--scheduler", default=None,
                   help="train on a Dask cluster: 'local' starts a LocalCluster of --workers processes, "
                        "or the address of a running scheduler (tcp://host:8786)")
    p.add_argument("--threads-per-model", type=int, default=None,
                   help="backend CPU threads per model (default 2, the count that trained the committed caches)")
    p.add_argument("--worker-wait", type=float, default=None, metavar="SECONDS",
                   help="with --scheduler: how long a Dask cluster may have no worker before the run stops (default 120)")
    p.add_argument("--nondeterministic", action="store_true",
                   help="do not switch the backend to deterministic kernels (faster on some GPUs; reruns may differ)")
    p.add_argument("--results-dir", default=None, help="output folder (default results/<profile>/)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="show Keras' epoch bars")
    return p


def check_writable(folder: Path, flag: str = "--results-dir") -> None:
    """Raise :class:`ConfigError` now, before any training, if ``folder`` cannot hold results (``flag``: the
    option that names it, for the message)."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"results folder {folder}: {probe} is a file, not a folder; choose another {flag}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"results folder {folder}: {probe} is not writable; choose another {flag}")


def check_plan(args, cfg) -> None:
    """Everything the whole run will need, checked before any folder is made or model trained
    (:class:`ConfigError`, one line): a ``--data`` folder (even when the caches would not read it), the seeds
    of ``--seeds``, and the mitigation sweep's sizes."""
    if args.data is not None and args.stage != "data":
        from mia_repro.data.cifar10 import named_batch_dir

        named_batch_dir(args.data)  # DatasetNotFoundError: one line, exit 2
    if args.seeds is not None:
        if args.seed is not None:
            raise ConfigError("--seed: give --seed or --seeds, not both (--seeds runs each of its seeds)")
        if args.stage not in ("stage1", "stage2", "compare", "all"):  # the pool has its own spread (its targets)
            raise ConfigError(f"--seeds: runs stage1, stage2 and compare; not available for {args.stage}")
        if len(set(args.seeds)) != len(args.seeds) or len(args.seeds) < 2:
            raise ConfigError(f"--seeds: needs at least two different seeds, got {args.seeds}")
        for s in args.seeds:
            try:
                dataclasses.replace(cfg, seed=s)
            except ConfigError as exc:
                raise ConfigError(f"--seeds: {exc}") from None
    if args.stage in ("mitigation", "all") and args.seeds is None:
        m = cfg.mitigation
        if not m.sizes:
            raise ConfigError(f"mitigation.sizes: none of the profile's mitigation sizes is among --sizes "
                              f"{list(cfg.sizes)}; include one, or run the other stages without mitigation")
        missing = [n for n in m.sizes if n not in cfg.sizes]
        if missing:
            raise ConfigError(f"mitigation.sizes: {missing} are not among the sizes {list(cfg.sizes)}")


def import_attack_modules(modules) -> None:
    """Import each of ``modules`` (a dotted module name, or the path of a ``.py`` file) so that the attacks
    it registers can be named; :class:`ConfigError` (one line) for one that does not import."""
    import importlib
    import importlib.util

    for module in modules or ():
        try:
            if module.endswith(".py"):
                path = Path(module)
                spec = importlib.util.spec_from_file_location(path.stem, path) if path.is_file() else None
                if spec is None:
                    raise ConfigError(f"--attack-module: no file {module}")
                loaded = importlib.util.module_from_spec(spec)
                sys.modules[path.stem] = loaded
                spec.loader.exec_module(loaded)
            else:
                importlib.import_module(module)
        except ConfigError:
            raise
        except Exception as exc:  # the user's code: name it and what it raised, in one line
            raise ConfigError(f"--attack-module {module}: {type(exc).__name__}: {exc}") from None


def run(args) -> None:
    import_attack_modules(args.attack_module)
    cfg = get_config(
        args.profile,
        data_path=args.data,
        seed=args.seed,
        sizes=args.sizes,
        epochs=args.epochs,
        trainer=args.trainer,
        steps_per_execution=args.steps_per_execution,
        workers=args.workers,
        scheduler=args.scheduler,
        threads_per_model=args.threads_per_model,
        worker_wait=args.worker_wait,
        results_dir=args.results_dir,
        deterministic=False if args.nondeterministic else None,
        n_shadows=args.shadows,
    )
    from mia_repro.experiment.overrides import with_config_file, with_sweep

    if args.config is not None:  # then the flags again: they win over the file
        cfg = with_config_file(cfg, args.config)
        flags = {k: v for k, v in dict(data_path=args.data, seed=args.seed, results_dir=args.results_dir,
                                       n_shadows=args.shadows).items() if v is not None}
        if args.sizes is not None:
            flags["sizes"] = tuple(args.sizes)
        if args.epochs is not None:
            flags["model"] = dataclasses.replace(cfg.model, epochs=args.epochs)
        cfg = dataclasses.replace(cfg, **flags)
    if args.attacks is not None:
        cfg = dataclasses.replace(cfg, attacks=tuple(args.attacks))
    cfg = with_sweep(cfg, l2=args.l2, dropout=args.dropout, dp_epsilons=args.dp_epsilons, topk=args.topk,
                     rounding=args.rounding, temperatures=args.temperatures)
    verbose = 2 if args.verbose else 0
    check_plan(args, cfg)
    if args.stage == "data":
        from mia_repro.data.cifar10 import ensure_dataset

        print(ensure_dataset())
        return
    check_writable(cfg.output_dir)
    from mia_repro.experiment.lock import holding, run_folders

    with holding(*run_folders(cfg)):  # one run per results folder; every stage inside holds it too
        run_stages(args, cfg, verbose)


def run_stages(args, cfg, verbose: int) -> None:
    """The stages ``args.stage`` asks for, on the checked ``cfg``, then the reports."""
    if (note := profile_note(cfg.profile)) is not None:
        print(note)
    changed = cfg.changed_fields() if cfg.results_dir is None else ()
    if changed and args.seeds is None:
        print(f"results go to {cfg.output_dir} (this config differs from profile {cfg.profile} in "
              f"{', '.join(changed)}; results/{cfg.profile}/ keeps the profile's own; Stage I models are shared "
              f"through {cfg.layout.stage1_root})")
    from mia_repro.reporting import figures

    if args.seeds is not None:
        from mia_repro.experiment.stages.seeds import run_seeds

        run_seeds(cfg, args.seeds, verbose=verbose)
        figures.seed_runs(cfg, args.seeds)
        print_reports(cfg.layout.seeds_dir.parent)  # the folder whose report shows the spread
        return
    if args.stage in ("stage1", "all"):
        from mia_repro.experiment.stages.stage1 import run_stage1

        figures.stage1(cfg, run_stage1(cfg, verbose=verbose))
    if args.stage in ("stage2", "all"):
        from mia_repro.experiment.stages.stage2 import run_stage2

        figures.stage2(cfg, run_stage2(cfg))
    if args.stage in ("compare", "all"):
        from mia_repro.experiment.stages.compare import run_compare

        figures.compare(cfg, run_compare(cfg))
    if args.stage in ("mitigation", "all"):
        from mia_repro.experiment.stages.mitigation import run_mitigation

        run_mitigation(cfg, verbose=verbose)
        figures.mitigation(cfg)
    if args.stage == "pool":
        from mia_repro.experiment.stages.pool import train_pool
        from mia_repro.experiment.stages.pool_attacks import run_pool_attacks

        figures.pool(cfg, run_pool_attacks(cfg, train_pool(cfg, verbose=verbose)))
    if args.stage == "audit":
        from mia_repro.experiment.stages.canary_audit import run_audit

        run_audit(cfg, verbose=verbose)
        figures.audit(cfg)
    print_reports(cfg.output_dir)


def print_reports(folder) -> None:
    """Write ``REPORT.md`` of ``folder`` (and ``results/README.md`` for a committed profile's folder) from its
    JSON, one line per file written: the end of every stage and of ``reproduce``."""
    from mia_repro.base.paths import PROJECT_ROOT, portable
    from mia_repro.reporting.report import write_reports

    for path in write_reports(folder, PROJECT_ROOT / "results"):
        print(f"report -> {portable(path)}")


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (kill, a job scheduler) stops the workers and keeps what finished, like Ctrl-C


def no_space(args) -> str:
    """The one line for a full disk: where, how much is free, what to do (every write is atomic: nothing damaged)."""
    import shutil

    from mia_repro.base.paths import PROJECT_ROOT

    folder = Path(args.results_dir) if args.results_dir else PROJECT_ROOT / "results" / args.profile
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 2**20
    return (f"no space left on the device holding {folder} ({free:.0f} MiB free); free at least {NEEDED_MIB} MiB "
            "(more for the paper profile) and rerun the same command: everything finished is cached, nothing was damaged")


NEEDED_MIB = 500  # a stage's largest writes: one size's Stage I files and figures (paper n = 15,000: ~40 MB) with room


def main(argv: list[str] | None = None) -> int:
    import signal

    if threading_main():
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except MiaReproError as exc:  # every error the package raises on purpose: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        print(f"error: {no_space(args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every model and attack finished so far is cached; rerun the same command to resume",
              file=sys.stderr)
        return 130
    return 0
