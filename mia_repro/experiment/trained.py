"""Trained models, cached: :func:`train_or_load_many` returns every requested model's outputs, training
only what is missing (all of it in one pass of the executor) and completing by inference a file whose
weights are kept.  Stage I and the mitigation sweep both train through here; :class:`ModelStore` names
each model's files (keyed by all the model depends on)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from mia_repro.base.cache import CacheEntryError, save_npz
from mia_repro.base.determinism import set_deterministic
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import config_key
from mia_repro.experiment.outputs import ModelOutputs, trained_part
from mia_repro.experiment.plan import TrainRequest, expected, size_splits
from mia_repro.experiment.plan import execution as plan_execution
from mia_repro.experiment.store import Part, load_entry
from mia_repro.models.config import ModelConfig
from mia_repro.training import (DataRef, ModelTask, TrainJob, TrainResult, choose_trainer, resolve_data, run_task,
                                run_units, task_units)


class ModelStore:
    """Where the trained models of one experiment live: each model's file
    (:class:`~mia_repro.experiment.outputs.ModelOutputs`) and its weights, under the key of all it depends on
    (model config, seed, size, name, pooled records)."""

    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.layout = cfg.layout

    def key(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> str:
        """What a model's file depends on, hashed: its file name carries it, its digest sidecar names it."""
        return config_key(model_cfg, self.cfg.seed, size, job.name, self.cfg.n_records)

    def path(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> Path:
        return self.layout.stage1_model(size, job.name, self.key(job, size, model_cfg))

    def weights_path(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> Path:
        return self.layout.stage1_weights(size, job.name, self.key(job, size, model_cfg))

    def load_weights(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> list[np.ndarray] | None:
        """The kept weights of a model (``build_cnn`` order), or None if absent, unverified or unreadable."""
        w = load_entry({"w": Part(self.weights_path(job, size, model_cfg), self.key(job, size, model_cfg), "npz")},
                       log=lambda line: None)  # damaged or unverified weights: retrain instead
        return None if w is None else [w["w"][k] for k in sorted(w["w"])]

    def remove_orphans(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> None:
        """Delete temp files that a killed :func:`~mia_repro.base.cache.atomic_write` left beside the model's files."""
        for path in (self.path(job, size, model_cfg), self.weights_path(job, size, model_cfg)):
            for tmp in [*path.parent.glob(f".{path.name}.*.tmp"), *path.parent.glob(f".{path.name}.digest.json.*.tmp")]:
                tmp.unlink(missing_ok=True)


def train_or_load(
    cfg: ExperimentConfig,
    size: int,
    jobs: Sequence[TrainJob],
    model_cfg: ModelConfig,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: int = 0,
    desc: str = "",
    log=print,
    stats: dict | None = None,
) -> list[ModelOutputs]:
    """:func:`train_or_load_many` for one request: outputs for ``jobs`` at ``size`` with ``model_cfg``."""
    return train_or_load_many(cfg, [TrainRequest(size, tuple(jobs), model_cfg, desc)], data=data, verbose=verbose,
                              log=log, stats=stats)[0]


def train_or_load_many(
    cfg: ExperimentConfig,
    requests: Sequence[TrainRequest],
    data: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: int = 0,
    log=print,
    stats: dict | None = None,
    desc: str = "",
) -> list[list[ModelOutputs]]:
    """The cached training path: outputs for every request's jobs, training only what is missing.

    Everything missing, across requests, is trained in one pass of the executor
    (:mod:`mia_repro.training.executor`, :func:`~mia_repro.experiment.plan.execution`): as many models at once as it has workers.
    Each model is saved by this process, atomically, as soon as its result arrives (weights first, so a
    file of outputs always has its weights beside it); an interruption loses only unfinished models.
    ``data``: ``(x, y)`` in memory (sent to the workers with each task), or None / a callable returning it
    (then each worker loads CIFAR-10 itself, :class:`~mia_repro.training.task.DataRef` of ``cfg.data_path``,
    and this process only if it completes a file from its weights).  ``stats`` (optional dict) receives the counts ``trained`` and ``completed``.  Each
    cached file is checked on load (:meth:`ModelOutputs.load`); a damaged, old-format or foreign one is
    reported by path and recomputed: completed by inference when the model's weights are kept, retrained
    otherwise.  Raises :class:`~mia_repro.training.TrainingFailed` (after keeping every finished model)
    if a model fails in its worker.
    """
    store = ModelStore(cfg)
    found: dict[tuple[int, str], ModelOutputs] = {}
    todo, complete = [], []  # todo: (request, job); complete: (request, job, training-time outputs, kept weights)
    specs, paths = {}, {}
    for r_i, req in enumerate(requests):
        splits = size_splits(cfg, req.size) if req.expects is None else None
        for j_i, j in enumerate(req.jobs):
            key = (r_i, j.name)
            specs[key] = expected(cfg, splits, j, req.model_cfg) if req.expects is None else req.expects[j_i]
            paths[key] = store.path(j, req.size, req.model_cfg)
            store.remove_orphans(j, req.size, req.model_cfg)
            if not paths[key].exists():
                todo.append((r_i, j))
                continue
            try:
                found[key] = ModelOutputs.load(paths[key], j.name, specs[key], key=store.key(j, req.size, req.model_cfg))
            except CacheEntryError as exc:
                old = trained_part(paths[key], j, store.key(j, req.size, req.model_cfg))
                weights = store.load_weights(j, req.size, req.model_cfg)
                if old is not None and weights is not None:
                    log(f"  cache entry not usable: {exc}; completing it from its weights")
                    complete.append((r_i, j, old, weights))
                else:
                    log(f"  cache entry not usable: {exc}; retraining")
                    todo.append((r_i, j))
    if stats is not None:
        stats.update(trained=len(todo), completed=len(complete),
                     per_request=[{"trained": sum(i == r_i for i, _ in todo),
                                   "completed": sum(c[0] == r_i for c in complete)} for r_i in range(len(requests))])
    if todo or complete:
        given = data() if callable(data) else data
        for_workers = given if given is not None else DataRef(cfg.data_path, cfg.n_records)
        x, y = resolve_data(for_workers)  # in this process: the same per-process copy a worker here would use
        set_deterministic(cfg.deterministic)
        execution = plan_execution(cfg)

        def keep(r_i: int, result: TrainResult, queries: dict, trained_on: dict, save_weights: bool = True) -> None:
            req, job = requests[r_i], next(j for j in requests[r_i].jobs if j.name == result.name)
            key = (r_i, job.name)
            entry_key = store.key(job, req.size, req.model_cfg)
            if save_weights:
                save_npz(store.weights_path(job, req.size, req.model_cfg), key=entry_key,
                         **{f"w{i:02d}": w for i, w in enumerate(result.weights)})
            out = ModelOutputs.from_result(result, job, y).with_queries(queries, specs[key].spec)
            out.trained_on = trained_on
            out.save(paths[key], key=entry_key)
            found[key] = out

        for r_i, job, old, weights in complete:
            queries = specs[(r_i, job.name)].spec.ask(weights, requests[r_i].model_cfg, x)
            keep(r_i, TrainResult(job.name, old.probs, old.history, weights, old.seconds, old.trainer), queries,
                 old.trained_on, save_weights=False)
        if todo:
            trainer, _ = choose_trainer(cfg.trainer)
            units, request_of = [], {}
            for r_i, req in enumerate(requests):
                jobs = [j for i, j in todo if i == r_i]
                # DP-SGD trains one model per unit (its own loop), whatever the trainer
                for group in task_units(jobs, "sequential" if req.model_cfg.dp else trainer) if jobs else []:
                    units.append(ModelTask(
                        tuple(group), req.model_cfg, tuple(specs[(r_i, j.name)].spec for j in group), trainer,
                        cfg.steps_per_execution, cfg.deterministic, verbose,
                        label=f"n={req.size} {req.label}" + ", ".join(j.name for j in group)))
                    request_of[id(units[-1])] = r_i
            # targets first: the unaware attacker of every setting needs only them, so a partial run is useful
            units.sort(key=lambda u: not any(j.name.endswith("target") for j in u.jobs))
            write = tqdm.write if log is print else log

            def on_result(task: ModelTask, outcome) -> None:
                r_i = request_of[id(task)]
                for result, queries in outcome:
                    trained_on = {**result.extra.pop("trained_on", {}), **result.extra,
                                  "threads_per_model": execution.threads_per_model}
                    keep(r_i, result, queries, trained_on)
                    out = found[(r_i, result.name)]
                    write(f"  n={requests[r_i].size} {requests[r_i].label}{result.name}: {result.seconds:.0f}s, "
                          f"train/test acc {out.train_acc:.3f}/{out.test_acc:.3f}")

            run_units(run_task, units, (for_workers,), execution, on_result, name=str, size=lambda u: len(u.jobs),
                      desc=desc or f"training ({execution.describe()})")
    return [[found[(r_i, j.name)] for j in req.jobs] for r_i, req in enumerate(requests)]
