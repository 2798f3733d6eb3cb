"""The experiment's plan: which models exist, on which records, with which seeds, and what each is asked.

For every size n (:func:`experiment_splits`, deterministic in the config's seed): the target and its shadows
as :class:`~mia_repro.training.TrainJob` s (:func:`size_jobs`, seeds from :func:`model_seed`), what each
model is queried on after training (:func:`query_spec`), what its file must hold (:func:`expected`), and
where the models train (:func:`execution`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mia_repro.data.splits import Splits, make_splits, population_sample
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.outputs import Expected
from mia_repro.models.config import ModelConfig
from mia_repro.models.queries import QuerySpec
from mia_repro.training import Execution, TrainJob


def model_seed(seed: int, size: int, role: int) -> int:
    """The training seed of model ``role`` (0 = target, k+1 = shadow k)."""
    return int(np.random.default_rng([seed, size, role, 7]).integers(2**31 - 1))


def size_jobs(splits: Splits, seed: int, n_shadows: int | None = None, prefix: str = "") -> list[TrainJob]:
    """The target job and the first ``n_shadows`` shadow jobs of one size."""
    n_shadows = len(splits.shadows) if n_shadows is None else n_shadows
    jobs = [TrainJob(f"{prefix}target", splits.target.members, splits.target.nonmembers, model_seed(seed, splits.size, 0))]
    for k in range(n_shadows):
        s = splits.shadows[k]
        jobs.append(TrainJob(f"{prefix}shadow_{k:02d}", s.members, s.nonmembers, model_seed(seed, splits.size, k + 1)))
    return jobs


def experiment_splits(cfg: ExperimentConfig) -> dict[int, Splits]:
    """``{size: Splits}`` for every size of ``cfg`` (deterministic in ``cfg.seed``)."""
    return {size: size_splits(cfg, size) for size in cfg.sizes}


def size_splits(cfg: ExperimentConfig, size: int) -> Splits:
    """The member / non-member splits of one size."""
    return make_splits(cfg.n_records, size, cfg.n_shadows, cfg.seed)


def query_spec(cfg: ExperimentConfig, splits: Splits, job: TrainJob) -> QuerySpec:
    """What a model is asked after training: its own records, the population sample, the augmentations and,
    for a shadow, the target's records."""
    return QuerySpec(job.eval_indices, population_sample(splits, cfg.outputs.population_size, cfg.seed),
                     cfg.outputs.augmentations, None if job.name.endswith("target") else splits.target_eval)


def expected(cfg: ExperimentConfig, splits: Splits, job: TrainJob, model_cfg: ModelConfig) -> Expected:
    """What the file of ``job``'s model trained with ``model_cfg`` must hold."""
    return Expected(query_spec(cfg, splits, job), len(job.members), dp=model_cfg.dp is not None)


def execution(cfg: ExperimentConfig) -> Execution:
    """Where ``cfg``'s models train: the :class:`~mia_repro.training.Execution` of its ``workers``,
    ``scheduler`` and ``threads_per_model``."""
    return Execution(cfg.workers, cfg.scheduler, cfg.threads_per_model, cfg.worker_wait)


@dataclass(frozen=True)
class TrainRequest:
    """Models one stage needs at one size with one model config: ``jobs`` of ``size`` trained with
    ``model_cfg``; ``label`` prefixes their names in messages (e.g. ``"l2=0.001 "``); ``expects``: per job
    what its file must hold (None: the Shokri plan's, :func:`expected`; the reference pool gives its own)."""

    size: int
    jobs: tuple[TrainJob, ...]
    model_cfg: ModelConfig
    label: str = ""
    expects: tuple[Expected, ...] | None = None


def load_data(cfg: ExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 pooled, capped at ``cfg.max_records``: x uint8 (N,32,32,3), y int64 (N,); read once per
    process (:class:`~mia_repro.training.task.DataRef`, as the workers read it)."""
    from mia_repro.training import DataRef

    return DataRef(cfg.data_path, cfg.n_records).load()
