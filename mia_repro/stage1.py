"""Stage I: train the target and the shadow models, keep their prediction vectors.

For each size n, every model's outputs are cached as one ``.npz`` under
``results/<profile>/stage1/n<size>/<name>-<key>.npz`` (see
:class:`ModelOutputs`); the key hashes the model config, seed, size and data
size, so a finished model is never retrained and an interrupted run resumes
at the next unfinished model.  Weights go beside them in ``weights/``
(git-ignored).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from .cache import load_npz, save_npz
from .config import ExperimentConfig, ModelConfig, config_key
from .data import load_cifar10
from .splits import Splits, make_splits
from .report import run_meta
from .training import TrainJob, TrainResult, choose_trainer, train_models


@dataclass
class ModelOutputs:
    """One trained model's records, members first.

    ``probs`` float32 (2n, C) softmax vectors; ``true_class`` int64 (2n,);
    ``member`` bool (2n,); ``indices`` int64 (2n,) into the pooled dataset.
    ``train_acc`` / ``test_acc``: accuracy on members / non-members.
    """

    name: str
    probs: np.ndarray
    true_class: np.ndarray
    member: np.ndarray
    indices: np.ndarray
    train_acc: float
    test_acc: float
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    trainer: str = ""

    @classmethod
    def from_result(cls, result: TrainResult, job: TrainJob, y: np.ndarray) -> "ModelOutputs":
        idx = job.eval_indices
        member = np.zeros(len(idx), dtype=bool)
        member[: len(job.members)] = True
        true = y[idx].astype(np.int64)
        correct = result.probs.argmax(axis=1) == true
        return cls(
            name=job.name,
            probs=result.probs.astype(np.float32),
            true_class=true,
            member=member,
            indices=idx.astype(np.int64),
            train_acc=float(correct[member].mean()),
            test_acc=float(correct[~member].mean()),
            history=result.history,
            seconds=result.seconds,
            trainer=result.trainer,
        )

    def save(self, path: Path) -> None:
        save_npz(
            path,
            probs=self.probs,
            true_class=self.true_class,
            member=self.member,
            indices=self.indices,
            train_acc=np.float64(self.train_acc),
            test_acc=np.float64(self.test_acc),
            history=np.array(json.dumps(self.history)),
            seconds=np.float64(self.seconds),
            trainer=np.array(self.trainer),
        )

    @classmethod
    def load(cls, path: Path, name: str) -> "ModelOutputs":
        d = load_npz(path)
        return cls(
            name=name,
            probs=d["probs"],
            true_class=d["true_class"],
            member=d["member"].astype(bool),
            indices=d["indices"],
            train_acc=float(d["train_acc"]),
            test_acc=float(d["test_acc"]),
            history=json.loads(str(d["history"])),
            seconds=float(d["seconds"]),
            trainer=str(d["trainer"]),
        )


@dataclass
class SizeOutputs:
    """Stage I outputs of one size: the target and its shadows."""

    size: int
    target: ModelOutputs
    shadows: list[ModelOutputs]


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


class Stage1Error(RuntimeError):
    """Stage I outputs are missing for what a later stage needs."""


class Stage1Store:
    """Where and how the cached model outputs of one experiment live."""

    def __init__(self, cfg: ExperimentConfig, n_total: int):
        self.cfg = cfg
        self.n_total = n_total
        self.root = cfg.output_dir / "stage1"

    def path(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> Path:
        key = config_key(model_cfg, self.cfg.seed, size, job.name, self.n_total)
        return self.root / f"n{size}" / f"{job.name}-{key}.npz"

    def weights_path(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> Path:
        p = self.path(job, size, model_cfg)
        return p.parent / "weights" / p.name.replace(".npz", ".weights.npz")


def n_records(cfg: ExperimentConfig) -> int:
    """How many pooled records the experiment draws from (60000 unless capped)."""
    return 60000 if cfg.max_records is None else min(60000, cfg.max_records)


def train_or_load(
    cfg: ExperimentConfig,
    size: int,
    jobs: Sequence[TrainJob],
    model_cfg: ModelConfig,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: int = 0,
    desc: str = "",
) -> list[ModelOutputs]:
    """The cached training path: return outputs for ``jobs``, training only missing ones.

    ``data`` is ``(x, y)`` from :func:`load_cifar10` (loaded on demand when a
    model must be trained).  Each model is saved atomically as soon as it is
    trained.
    """
    store = Stage1Store(cfg, n_records(cfg))
    paths = [store.path(j, size, model_cfg) for j in jobs]
    todo = [(j, p) for j, p in zip(jobs, paths) if not p.exists()]
    if todo:
        x, y = data if data is not None else load_data(cfg)
        bar = tqdm(total=len(todo), desc=desc or f"n={size}", unit="model", leave=True)

        def keep(result: TrainResult) -> None:
            job, path = next((j, p) for j, p in todo if j.name == result.name)
            ModelOutputs.from_result(result, job, y).save(path)
            w_path = store.weights_path(job, size, model_cfg)
            save_npz(w_path, **{f"w{i:02d}": w for i, w in enumerate(result.weights)})
            bar.update(1)

        train_models([j for j, _ in todo], model_cfg, x, y, trainer=cfg.trainer, verbose=verbose, on_result=keep)
        bar.close()
    return [ModelOutputs.load(p, j.name) for j, p in zip(jobs, paths)]


def load_data(cfg: ExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 pooled, capped at ``cfg.max_records``: x uint8 (N,32,32,3), y int64 (N,)."""
    x, y = load_cifar10(cfg.data_path)
    n = n_records(cfg)
    if len(x) < n:
        raise Stage1Error(f"the dataset has {len(x)} records but the config needs {n}; set max_records={len(x)}")
    return x[:n], y[:n]


def experiment_splits(cfg: ExperimentConfig) -> dict[int, Splits]:
    """``{size: Splits}`` for every size of ``cfg`` (deterministic in ``cfg.seed``)."""
    return {size: make_splits(n_records(cfg), size, cfg.n_shadows, cfg.seed) for size in cfg.sizes}


def run_stage1(cfg: ExperimentConfig, verbose: int = 0, data=None, log=print, figures: bool = True) -> dict[int, SizeOutputs]:
    """Train (or load from cache) the target and ``cfg.n_shadows`` shadows for every size.

    Returns ``{size: SizeOutputs}``.  Prints one line per size with the
    number of models trained and the wall time; draws the Stage I figures.
    """
    trainer, reason = choose_trainer(cfg.trainer)
    log(f"Stage I [{cfg.profile}]: sizes {list(cfg.sizes)}, {cfg.n_shadows} shadows, "
        f"{cfg.model.epochs} epochs; trainer={trainer} ({reason})")
    out = {}
    total_start = time.perf_counter()
    for size, splits in experiment_splits(cfg).items():
        start = time.perf_counter()
        jobs = size_jobs(splits, cfg.seed)
        store = Stage1Store(cfg, n_records(cfg))
        missing = sum(not store.path(j, size, cfg.model).exists() for j in jobs)
        if missing and data is None:
            data = load_data(cfg)
        outs = train_or_load(cfg, size, jobs, cfg.model, data=data, verbose=verbose)
        out[size] = SizeOutputs(size, outs[0], outs[1:])
        t = outs[0]
        if missing:
            log(f"  n={size}: trained {missing} model(s) in {time.perf_counter() - start:.0f}s; "
                f"target train/test acc {t.train_acc:.3f}/{t.test_acc:.3f}")
        else:
            log(f"  n={size}: all {len(jobs)} models cached, nothing trained; "
                f"target train/test acc {t.train_acc:.3f}/{t.test_acc:.3f}")
    if figures:
        from .plots import stage1_figures

        stage1_figures(out, run_meta(cfg), cfg.output_dir)
    log(f"Stage I done in {time.perf_counter() - total_start:.0f}s")
    return out


def load_stage1(cfg: ExperimentConfig) -> dict[int, SizeOutputs]:
    """Load every size's cached Stage I outputs; :class:`Stage1Error` if any model is missing."""
    store = Stage1Store(cfg, n_records(cfg))
    out = {}
    for size, splits in experiment_splits(cfg).items():
        jobs = size_jobs(splits, cfg.seed)
        paths = [store.path(j, size, cfg.model) for j in jobs]
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise Stage1Error(
                f"Stage I has not run for profile {cfg.profile!r} at n={size} "
                f"({len(missing)} of {len(paths)} models missing under {store.root}). "
                f"Run `python -m mia_repro stage1 --profile {cfg.profile}` first."
            )
        outs = [ModelOutputs.load(p, j.name) for j, p in zip(jobs, paths)]
        out[size] = SizeOutputs(size, outs[0], outs[1:])
    return out
