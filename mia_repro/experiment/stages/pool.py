"""The reference-pool experiment, its models: M CNNs, each on a seeded random half of a pool of 2n records.

The plan (:func:`pool_plan`): the pool and its population sample (:func:`~mia_repro.data.splits.pool_split`,
independent of the Shokri splits), one :class:`~mia_repro.training.TrainJob` per model (members: its half;
non-members: the other half; seed from :func:`~mia_repro.experiment.plan.model_seed` with a role of its
own), each asked for its logits on every pool record and on the population sample.  The models train
through the executor and the per-model cache like every other model
(:func:`~mia_repro.experiment.trained.train_or_load_many`: files under ``stage1/n<size>/pool_<m>-<key>.npz``,
an interrupted run resumes per model).  :func:`load_pool` returns them as a
:class:`~mia_repro.views.pool.ReferencePool`; the attacks on it: :mod:`.pool_attacks`.
"""
from __future__ import annotations

import time

import numpy as np

from mia_repro.experiment.lock import exclusive
from mia_repro.base.cache import CacheEntryError
from mia_repro.data.splits import PoolSplit, pool_split
from mia_repro.base.errors import MiaReproError
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.outputs import Expected, ModelOutputs
from mia_repro.experiment.plan import TrainRequest, execution, model_seed
from mia_repro.experiment.trained import ModelStore, train_or_load_many
from mia_repro.models.queries import QuerySpec
from mia_repro.views.pool import ReferencePool
from mia_repro.training import TrainJob

#: the role numbers of pool models start here (0 is the Shokri target, 1.. its shadows)
POOL_ROLE = 1000


class PoolError(MiaReproError, RuntimeError):
    """The pool's models are missing or damaged for what the attacks need."""


def pool_name(m: int) -> str:
    return f"pool_{m:03d}"


def pool_plan(cfg: ExperimentConfig) -> tuple[PoolSplit, list[TrainJob], tuple[Expected, ...]]:
    """The pool's records, its ``n_models`` jobs and what each model's file must hold."""
    rp = cfg.pool
    split = pool_split(cfg.n_records, rp.size, rp.population_size, cfg.seed)
    jobs = [TrainJob(pool_name(m), split.members(m), split.nonmembers(m), model_seed(cfg.seed, rp.size, POOL_ROLE + m))
            for m in range(rp.n_models)]
    expects = tuple(Expected(QuerySpec(j.eval_indices, split.population, ()), rp.size) for j in jobs)
    return split, jobs, expects


def as_pool(split: PoolSplit, outs: list[ModelOutputs], y: np.ndarray | None = None) -> ReferencePool:
    """The models' files as a :class:`ReferencePool` (every array in the pool's sorted record order)."""
    logits, member = [], []
    for o in outs:
        order = np.argsort(o.indices, kind="stable")
        if not np.array_equal(o.indices[order], split.records):
            raise PoolError(f"{o.name}: its records are not the pool's")
        logits.append(o.logits[order])
        member.append(o.member[order])
    true = outs[0].true_class[np.argsort(outs[0].indices, kind="stable")]
    pop_true = np.asarray(y)[split.population].astype(np.int64) if y is not None else None
    if pop_true is None:
        raise PoolError("the population records' classes are needed (the dataset's labels)")
    return ReferencePool(np.stack(logits), np.stack(member), true, np.stack([o.pop_logits for o in outs]), pop_true,
                         names=tuple(o.name for o in outs), indices=split.records, pop_indices=split.population)


@exclusive
def train_pool(cfg: ExperimentConfig, verbose: int = 0, data=None, log=print) -> ReferencePool:
    """Train (or load from the cache) the pool's ``n_models`` models; one line when done."""
    rp = cfg.pool
    split, jobs, expects = pool_plan(cfg)
    log(f"Reference pool [{cfg.profile}]: n={rp.size} (pool of {2 * rp.size} records), {rp.n_models} models, "
        f"{cfg.model.epochs} epochs; {execution(cfg).describe()}")
    t0 = time.perf_counter()
    stats: dict = {}
    outs = train_or_load_many(cfg, [TrainRequest(rp.size, tuple(jobs), cfg.model, "", expects)], data=data,
                              verbose=verbose, log=log, stats=stats, desc=f"pool ({execution(cfg).describe()})")[0]
    seconds = time.perf_counter() - t0
    log(f"  trained {stats['trained']}, completed {stats['completed']}, cached "
        f"{rp.n_models - stats['trained'] - stats['completed']} model(s) in {seconds:.0f}s; mean train/test acc "
        f"{np.mean([o.train_acc for o in outs]):.3f}/{np.mean([o.test_acc for o in outs]):.3f}")
    return as_pool(split, outs, _labels(cfg, data))


def load_pool(cfg: ExperimentConfig) -> ReferencePool:
    """The cached pool models, checked; :class:`PoolError` naming what is missing and the command to run."""
    rp = cfg.pool
    split, jobs, expects = pool_plan(cfg)
    store = ModelStore(cfg)
    outs = []
    for j, e in zip(jobs, expects):
        path = store.path(j, rp.size, cfg.model)
        if not path.exists():
            raise PoolError(f"the reference pool of profile {cfg.profile!r} is not trained ({j.name} missing under "
                            f"{path.parent}); run `python -m mia_repro pool --profile {cfg.profile}`")
        try:
            outs.append(ModelOutputs.load(path, j.name, e, key=store.key(j, rp.size, cfg.model)))
        except CacheEntryError as exc:
            raise PoolError(f"{exc}; run `python -m mia_repro pool --profile {cfg.profile}`: it recomputes that "
                            f"model") from None
    return as_pool(split, outs, _labels(cfg, None))


def _labels(cfg: ExperimentConfig, data) -> np.ndarray:
    """The pooled dataset's labels (y of ``data`` when given)."""
    if data is not None and not callable(data):
        return np.asarray(data[1])
    from mia_repro.experiment.plan import load_data

    return load_data(cfg)[1]
