"""Stage I: train the target and the shadow models of every size, keep their outputs.

Each model's outputs (:class:`~mia_repro.experiment.outputs.ModelOutputs`) are cached as one file under
``results/<profile>/stage1/n<size>/`` (:class:`~mia_repro.experiment.layout.Layout`), keyed by all the
model depends on, so a finished model is never retrained and an interrupted run resumes at the next
unfinished model (:func:`~mia_repro.experiment.trained.train_or_load_many`).  Weights go beside them in
``weights/`` (git-ignored).
"""
from __future__ import annotations

import time

from mia_repro.experiment.lock import exclusive
from mia_repro.base.cache import CacheEntryError
from mia_repro.base.errors import MiaReproError
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.outputs import ModelOutputs, SizeOutputs
from mia_repro.experiment.plan import TrainRequest, execution, expected, experiment_splits, size_jobs
from mia_repro.experiment.trained import ModelStore, train_or_load_many
from mia_repro.training import choose_trainer


class Stage1Error(MiaReproError, RuntimeError):
    """Stage I outputs are missing for what a later stage needs."""


@exclusive
def run_stage1(cfg: ExperimentConfig, verbose: int = 0, data=None, log=print) -> dict[int, SizeOutputs]:
    """Train (or load from cache) the target and ``cfg.n_shadows`` shadows for every size.

    Returns ``{size: SizeOutputs}``.  Prints one line per size with the number of models trained and the
    wall time.  ``data``: ``(x, y)`` in memory, or None (every worker loads CIFAR-10 itself).
    """
    trainer, reason = choose_trainer(cfg.trainer)
    log(f"Stage I [{cfg.profile}]: sizes {list(cfg.sizes)}, {cfg.n_shadows} shadows, "
        f"{cfg.model.epochs} epochs; trainer={trainer} ({reason}); "
        f"deterministic={cfg.deterministic}; {execution(cfg).describe()}")
    out = {}
    total_start = time.perf_counter()
    requests = [TrainRequest(size, tuple(size_jobs(splits, cfg.seed)), cfg.model)
                for size, splits in experiment_splits(cfg).items()]
    stats: dict = {}
    all_outs = train_or_load_many(cfg, requests, data=data, verbose=verbose, log=log, stats=stats,
                                  desc=f"Stage I ({execution(cfg).describe()})")
    for req, outs, counts in zip(requests, all_outs, stats["per_request"]):
        out[req.size] = SizeOutputs(req.size, outs[0], outs[1:])
        t = outs[0]
        if counts["trained"] + counts["completed"]:
            log(f"  n={req.size}: trained {counts['trained']}, completed {counts['completed']} model(s); "
                f"target train/test acc {t.train_acc:.3f}/{t.test_acc:.3f}")
        else:
            log(f"  n={req.size}: all {len(req.jobs)} models cached, nothing trained; "
                f"target train/test acc {t.train_acc:.3f}/{t.test_acc:.3f}")
    log(f"Stage I done in {time.perf_counter() - total_start:.0f}s")
    return out


def load_stage1(cfg: ExperimentConfig) -> dict[int, SizeOutputs]:
    """Load and check every size's cached Stage I outputs.

    :class:`Stage1Error` (naming the file and the command to run) if a model is
    missing, damaged or of an old format: ``stage1`` recomputes exactly those.
    """
    store = ModelStore(cfg)
    out = {}
    for size, splits in experiment_splits(cfg).items():
        jobs = size_jobs(splits, cfg.seed)
        paths = [store.path(j, size, cfg.model) for j in jobs]
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise Stage1Error(
                f"Stage I has not run for profile {cfg.profile!r} at n={size} "
                f"({len(missing)} of {len(paths)} models missing under {store.layout.stage1_root}). "
                f"Run `{rerun_hint(cfg, 'stage1')}` first."
            )
        outs = []
        for j, p in zip(jobs, paths):
            try:
                outs.append(ModelOutputs.load(p, j.name, expected(cfg, splits, j, cfg.model),
                                             key=store.key(j, size, cfg.model)))
            except CacheEntryError as exc:
                raise Stage1Error(f"{exc}. Run `{rerun_hint(cfg, 'stage1')}`: it recomputes that model.") from None
        out[size] = SizeOutputs(size, outs[0], outs[1:])
    return out


def rerun_hint(cfg: ExperimentConfig, stage: str) -> str:
    """The command that runs ``stage`` for ``cfg``, repeating the user's overrides of the profile."""
    from mia_repro.experiment.profiles import PROFILES

    base = PROFILES.get(cfg.profile)
    parts = [f"python -m mia_repro {stage} --profile {cfg.profile}"]
    if base is None or cfg.sizes != base.sizes:
        parts.append("--sizes " + " ".join(str(n) for n in cfg.sizes))
    if base is None or cfg.seed != base.seed:
        parts.append(f"--seed {cfg.seed}")
    if base is None or cfg.model.epochs != base.model.epochs:
        parts.append(f"--epochs {cfg.model.epochs}")
    if cfg.results_dir is not None:
        parts.append(f"--results-dir {cfg.results_dir}")
    if cfg.data_path is not None:
        parts.append(f"--data {cfg.data_path}")
    return " ".join(parts)
