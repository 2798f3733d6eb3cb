"""Stage I: train the target and the shadow models, keep their prediction vectors.

For each size n, every model's outputs are cached as one ``.npz`` under
``results/<profile>/stage1/n<size>/<name>-<key>.npz`` (see
:class:`ModelOutputs`); the key hashes the model config, seed, size and data
size, so a finished model is never retrained and an interrupted run resumes
at the next unfinished model.  Weights go beside them in ``weights/``
(git-ignored).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from .cache import CacheEntryError, load_npz, save_npz, seal, sidecar
from .config import ExperimentConfig, ModelConfig, config_key
from .determinism import set_deterministic
from .inference import query_model
from .splits import Splits, make_splits, population_sample
from .report import run_meta
from .training import TrainJob, TrainResult, choose_trainer
from .errors import MiaReproError


FORMAT = 2  # version of the per-model file; files without it (format 1: softmax only) are recomputed

EXTRA_ARRAYS = ("logits", "pop_indices", "pop_logits", "aug_labels")




@dataclass(repr=False)
class ModelOutputs:
    """One trained model's records, members first (``n`` members, then ``n`` non-members).

    ``probs`` float32 (2n, C) softmax vectors; ``logits`` float32 (2n, C) the
    pre-softmax outputs; ``true_class`` int64 (2n,); ``member`` bool (2n,);
    ``indices`` int64 (2n,) into the pooled dataset.  ``train_acc`` /
    ``test_acc``: accuracy on members / non-members.

    For the reference-model attacks (:mod:`mia_repro.attacks`):
    ``pop_indices`` int64 (P,) and ``pop_logits`` float32 (P, C): the
    population sample; ``aug_names`` (A,) and ``aug_labels`` int16 (A, 2n):
    predicted labels on augmented copies of the own records; for shadows
    ``ref_indices`` int64 (2n_t,) / ``ref_logits`` float32 (2n_t, C): logits on
    the target's records (OUT by construction).  ``spec``: what the extras were
    computed for (checked on load).  ``trained_on``: the machine that trained the model
    (:func:`mia_repro.training.machine_info`) and the trainer's settings (``steps_per_execution``; ``k``
    for the stacked trainer); {} in files written before it was kept.
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
    logits: np.ndarray | None = None
    pop_indices: np.ndarray | None = None
    pop_logits: np.ndarray | None = None
    aug_names: tuple = ()
    aug_labels: np.ndarray | None = None
    ref_indices: np.ndarray | None = None
    ref_logits: np.ndarray | None = None
    inference_seconds: float = 0.0
    spec: dict = field(default_factory=dict)
    trained_on: dict = field(default_factory=dict)

    @property
    def dp(self) -> dict | None:
        """A DP-SGD model's schedule and guarantee (σ, q, steps, C, δ, ε of the RDP and PLD accountants, as
        :class:`mia_repro.privacy.Schedule`), recorded in its file; None for an ordinary model."""
        return self.trained_on.get("dp")

    def __repr__(self) -> str:
        c = np.shape(self.probs)[1] if np.ndim(self.probs) == 2 else "?"
        extras = [f"{k} {np.shape(getattr(self, k))}" for k in ("pop_logits", "ref_logits", "aug_labels")
                  if getattr(self, k) is not None]
        return (f"ModelOutputs({self.name!r}: {len(self.member)} records ({int(np.sum(self.member))} members) x {c} "
                f"classes, train/test acc {self.train_acc:.3f}/{self.test_acc:.3f}"
                + (", " + ", ".join(extras) if extras else "") + ")")

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

    def with_queries(self, queries: dict, spec: dict) -> "ModelOutputs":
        """These outputs completed with :func:`mia_repro.inference.query_model`'s arrays for ``spec``
        (:func:`outputs_spec`; its ``reference`` is None for the target)."""
        ref_indices = spec["reference"]
        return dataclasses.replace(
            self, logits=queries["logits"], pop_indices=np.asarray(spec["population"], np.int64),
            pop_logits=queries["pop_logits"], aug_names=tuple(spec["augmentations"]), aug_labels=queries["aug_labels"],
            ref_indices=None if ref_indices is None else np.asarray(ref_indices, np.int64),
            ref_logits=queries.get("ref_logits"), inference_seconds=float(queries["inference_seconds"]),
            spec=public_spec(spec))

    def save(self, path: Path, key: str | None = None) -> None:
        """Write the file (atomically) and, with ``key``, its digest sidecar (:mod:`mia_repro.cache`)."""
        arrays = dict(
            format=np.int64(FORMAT),
            probs=self.probs,
            true_class=self.true_class,
            member=self.member,
            indices=self.indices,
            train_acc=np.float64(self.train_acc),
            test_acc=np.float64(self.test_acc),
            history=np.array(json.dumps(self.history)),
            seconds=np.float64(self.seconds),
            trainer=np.array(self.trainer),
            logits=self.logits,
            pop_indices=self.pop_indices,
            pop_logits=self.pop_logits,
            aug_names=np.array(self.aug_names, dtype=str),
            aug_labels=self.aug_labels,
            inference_seconds=np.float64(self.inference_seconds),
            spec=np.array(json.dumps(self.spec, sort_keys=True)),
            trained_on=np.array(json.dumps(self.trained_on, sort_keys=True)),
        )
        if self.ref_logits is not None:
            arrays.update(ref_indices=self.ref_indices, ref_logits=self.ref_logits)
        save_npz(path, key=key, **arrays)

    @classmethod
    def load(cls, path: Path, name: str, expect: dict | None = None, key: str | None = None) -> "ModelOutputs":
        """Read one model's file; :class:`~mia_repro.cache.CacheEntryError` (naming ``path``) if it cannot be used.

        With ``key``, the file must carry that key and its digest (:func:`mia_repro.cache.verified_bytes`);
        a file written before digests existed (no sidecar) is accepted only if every content check below
        passes, and is then sealed in place (how the committed caches migrate, never retrained).
        ``expect`` (from :func:`outputs_spec`) is checked against what the file
        was computed for: the format, its own records, the population sample,
        the augmentations and (shadows) the target's records, and every array's shape.
        """
        legacy = key is not None and path.exists() and not sidecar(path).exists()
        d = load_npz(path, key=None if legacy else key)
        if int(d.get("format", 1)) != FORMAT or any(k not in d for k in EXTRA_ARRAYS):
            raise CacheEntryError(f"{path}: old format {int(d.get('format', 1))} (no logits / reference outputs)")
        try:
            out = cls(
                name=name, probs=d["probs"], true_class=d["true_class"], member=d["member"].astype(bool),
                indices=d["indices"], train_acc=float(d["train_acc"]), test_acc=float(d["test_acc"]),
                history=json.loads(str(d["history"])), seconds=float(d["seconds"]), trainer=str(d["trainer"]),
                logits=d["logits"], pop_indices=d["pop_indices"], pop_logits=d["pop_logits"],
                aug_names=tuple(str(a) for a in d["aug_names"]), aug_labels=d["aug_labels"],
                ref_indices=d.get("ref_indices"), ref_logits=d.get("ref_logits"),
                inference_seconds=float(d["inference_seconds"]), spec=json.loads(str(d["spec"])),
                trained_on=_trained_on(d),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CacheEntryError(f"{path}: incomplete ({type(exc).__name__}: {exc})") from None
        if expect is not None:
            out._check(path, expect)
        if legacy:
            if expect is None:
                raise CacheEntryError(f"{path}: no digest beside it, and nothing to check its content against")
            seal(path, key)
        return out

    def _check(self, path: Path, expect: dict) -> None:
        n2, c = len(expect["own"]), self.probs.shape[-1] if self.probs.ndim == 2 else -1
        if self.indices.shape != (n2,) or not np.array_equal(self.indices, expect["own"]):
            raise CacheEntryError(f"{path}: holds other records than this config's model (folder reused?)")
        want_ref = expect.get("reference")
        if want_ref is not None and (self.ref_logits is None or self.ref_indices is None
                                     or not np.array_equal(self.ref_indices, want_ref)):
            raise CacheEntryError(f"{path}: lacks this config's reference outputs on the target's records")
        shapes = {"probs": (self.probs, (n2, c)), "logits": (self.logits, (n2, c)), "member": (self.member, (n2,)),
                  "true_class": (self.true_class, (n2,)),
                  "aug_labels": (self.aug_labels, (len(expect["augmentations"]), n2)),
                  "pop_logits": (self.pop_logits, (len(expect["population"]), c))}
        if want_ref is not None:
            shapes["ref_logits"] = (self.ref_logits, (len(want_ref), c))
        for name, (arr, want) in shapes.items():
            if arr.shape != want:
                raise CacheEntryError(f"{path}: {name} has shape {arr.shape}, expected {want}")
        if self.spec != public_spec(expect) or not np.array_equal(self.pop_indices, expect["population"]):
            raise CacheEntryError(f"{path}: computed for another population sample or augmentation list")


def outputs_spec(cfg: ExperimentConfig, splits: Splits, job: TrainJob) -> dict:
    """What a model's file must hold for ``cfg``: own records, population, augmentations, reference records."""
    return {"own": job.eval_indices, "population": population_sample(splits, cfg.outputs.population_size, cfg.seed),
            "augmentations": list(cfg.outputs.augmentations),
            "reference": None if job.name.endswith("target") else splits.target_eval}


def public_spec(spec: dict) -> dict:
    """The JSON-able part of :func:`outputs_spec` stored in each file."""
    return {"format": FORMAT, "population_size": int(len(spec["population"])),
            "augmentations": list(spec["augmentations"])}


@dataclass
class SizeOutputs:
    """Stage I outputs of one size: the target and its shadows."""

    size: int
    target: ModelOutputs
    shadows: list[ModelOutputs]

    def fingerprint(self) -> str:
        """A short hash of every model's outputs: later stages key their caches by it, so a
        retrained Stage I (same config, other bits) never pairs with a stale attack.  Computed once."""
        if getattr(self, "_fingerprint", None):
            return self._fingerprint
        h = hashlib.sha256()
        for m in [self.target, *self.shadows]:
            for arr in (m.indices, m.probs, m.logits, m.pop_logits, m.aug_labels, m.ref_logits):
                if arr is not None:
                    h.update(np.ascontiguousarray(arr).tobytes())
        self._fingerprint = h.hexdigest()[:12]
        return self._fingerprint


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


class Stage1Error(MiaReproError, RuntimeError):
    """Stage I outputs are missing for what a later stage needs."""


class Stage1Store:
    """Where and how the cached model outputs of one experiment live."""

    def __init__(self, cfg: ExperimentConfig, n_total: int):
        self.cfg = cfg
        self.n_total = n_total
        self.root = cfg.stage1_root

    def key(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> str:
        """What a model's file depends on, hashed: its file name carries it, its digest sidecar names it."""
        return config_key(model_cfg, self.cfg.seed, size, job.name, self.n_total)

    def path(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> Path:
        return self.root / f"n{size}" / f"{job.name}-{self.key(job, size, model_cfg)}.npz"

    def weights_path(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> Path:
        p = self.path(job, size, model_cfg)
        return p.parent / "weights" / p.name.replace(".npz", ".weights.npz")

    def load_weights(self, job: TrainJob, size: int, model_cfg: ModelConfig) -> list[np.ndarray] | None:
        """The kept weights of a model (``build_cnn`` order), or None if absent, unverified or unreadable."""
        path = self.weights_path(job, size, model_cfg)
        if not path.exists():
            return None
        try:
            w = load_npz(path, key=self.key(job, size, model_cfg))
            return [w[k] for k in sorted(w)]
        except CacheEntryError:  # damaged or unverified weights: retrain instead
            return None

    @staticmethod
    def remove_orphans(path: Path) -> None:
        """Delete temp files that a killed :func:`~mia_repro.cache.atomic_write` left beside ``path``."""
        for folder, name in ((path.parent, path.name), (path.parent / "weights", path.name.replace(".npz", ".weights.npz"))):
            for tmp in [*folder.glob(f".{name}.*.tmp"), *folder.glob(f".{name}.digest.json.*.tmp")]:
                tmp.unlink(missing_ok=True)


def n_records(cfg: ExperimentConfig) -> int:
    """How many pooled records the experiment draws from (60000 unless capped)."""
    return 60000 if cfg.max_records is None else min(60000, cfg.max_records)


@dataclass(frozen=True)
class TrainRequest:
    """Models one stage needs at one size with one model config: ``jobs`` of ``size`` trained with
    ``model_cfg``; ``label`` prefixes their names in messages (e.g. ``"l2=0.001 "``)."""

    size: int
    jobs: tuple[TrainJob, ...]
    model_cfg: ModelConfig
    label: str = ""


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
    (:mod:`mia_repro.training.executor`, ``cfg.execution``): as many models at once as it has workers.
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
    from .training import DataRef, ModelTask, resolve_data, run_task, run_units, task_units

    store = Stage1Store(cfg, n_records(cfg))
    found: dict[tuple[int, str], ModelOutputs] = {}
    todo, complete = [], []  # todo: (request, job); complete: (request, job, training-time outputs, kept weights)
    specs, paths = {}, {}
    for r_i, req in enumerate(requests):
        splits = make_splits(n_records(cfg), req.size, cfg.n_shadows, cfg.seed)
        for j in req.jobs:
            key = (r_i, j.name)
            specs[key] = outputs_spec(cfg, splits, j)
            paths[key] = store.path(j, req.size, req.model_cfg)
            store.remove_orphans(paths[key])
            if not paths[key].exists():
                todo.append((r_i, j))
                continue
            try:
                found[key] = ModelOutputs.load(paths[key], j.name, specs[key], key=store.key(j, req.size, req.model_cfg))
            except CacheEntryError as exc:
                old = _trained_part(paths[key], j, store.key(j, req.size, req.model_cfg))
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
        for_workers = given if given is not None else DataRef(cfg.data_path, n_records(cfg))
        x, y = resolve_data(for_workers)  # in this process: the same per-process copy a worker here would use
        set_deterministic(cfg.deterministic)
        execution = cfg.execution

        def keep(r_i: int, result: TrainResult, queries: dict, trained_on: dict, save_weights: bool = True) -> None:
            req, job = requests[r_i], next(j for j in requests[r_i].jobs if j.name == result.name)
            key = (r_i, job.name)
            entry_key = store.key(job, req.size, req.model_cfg)
            if save_weights:
                save_npz(store.weights_path(job, req.size, req.model_cfg), key=entry_key,
                         **{f"w{i:02d}": w for i, w in enumerate(result.weights)})
            out = ModelOutputs.from_result(result, job, y).with_queries(queries, specs[key])
            out.trained_on = trained_on
            out.save(paths[key], key=entry_key)
            found[key] = out

        for r_i, job, old, weights in complete:
            spec = specs[(r_i, job.name)]
            queries = query_model(weights, requests[r_i].model_cfg, x, job.eval_indices, spec["population"],
                                  tuple(spec["augmentations"]), spec["reference"])
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
                        tuple(group), req.model_cfg, tuple(specs[(r_i, j.name)] for j in group), trainer,
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


def _trained_part(path: Path, job: TrainJob, key: str) -> ModelOutputs | None:
    """The training-time part (probs, history) of a file of any format, if it is readable, holds ``job``'s
    records, and verifies against ``key`` when it has a digest (one written before digests is trusted on its
    records alone); None otherwise (then the model is retrained, never completed)."""
    try:
        d = load_npz(path, key=key if sidecar(path).exists() else None)
        if not np.array_equal(d["indices"], job.eval_indices) or d["probs"].shape[0] != len(job.eval_indices):
            return None
        return ModelOutputs(job.name, d["probs"], d["true_class"], d["member"].astype(bool), d["indices"],
                            float(d["train_acc"]), float(d["test_acc"]), json.loads(str(d["history"])),
                            float(d["seconds"]), str(d["trainer"]), trained_on=_trained_on(d))
    except Exception:  # damaged: retrain
        return None


def _trained_on(d: dict) -> dict:
    """The ``trained_on`` record of a loaded file ({} in files written before it was kept)."""
    return json.loads(str(d["trained_on"])) if "trained_on" in d else {}


def load_data(cfg: ExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 pooled, capped at ``cfg.max_records``: x uint8 (N,32,32,3), y int64 (N,); read once per
    process (:class:`~mia_repro.training.task.DataRef`, as the workers read it)."""
    from .training import DataRef

    return DataRef(cfg.data_path, n_records(cfg)).load()


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
        f"{cfg.model.epochs} epochs; trainer={trainer} ({reason}); "
        f"deterministic={cfg.deterministic}; {cfg.execution.describe()}")
    out = {}
    total_start = time.perf_counter()
    requests = [TrainRequest(size, tuple(size_jobs(splits, cfg.seed)), cfg.model)
                for size, splits in experiment_splits(cfg).items()]
    stats: dict = {}
    all_outs = train_or_load_many(cfg, requests, data=data, verbose=verbose, log=log, stats=stats,
                                  desc=f"Stage I ({cfg.execution.describe()})")
    for req, outs, counts in zip(requests, all_outs, stats["per_request"]):
        out[req.size] = SizeOutputs(req.size, outs[0], outs[1:])
        t = outs[0]
        if counts["trained"] + counts["completed"]:
            log(f"  n={req.size}: trained {counts['trained']}, completed {counts['completed']} model(s); "
                f"target train/test acc {t.train_acc:.3f}/{t.test_acc:.3f}")
        else:
            log(f"  n={req.size}: all {len(req.jobs)} models cached, nothing trained; "
                f"target train/test acc {t.train_acc:.3f}/{t.test_acc:.3f}")
    if figures:
        from .plots import stage1_figures

        stage1_figures(out, stage1_meta(cfg, out), cfg.output_dir)
    log(f"Stage I done in {time.perf_counter() - total_start:.0f}s")
    return out


def trained_on_table(stage1: dict[int, SizeOutputs]) -> dict[str, list[dict]]:
    """Per size (str), every distinct machine that trained its models, from their files: dicts of
    ``trainer``, ``backend``, ``device``, ``device_name``, ``keras`` and ``models`` (how many);
    ``{"trainer", "backend": "not recorded"}`` for files written before the machine was kept."""
    table = {}
    for size, so in sorted(stage1.items()):
        counts = Counter(json.dumps({"trainer": m.trainer, **(m.trained_on or {"backend": "not recorded"})},
                                    sort_keys=True) for m in [so.target, *so.shadows])
        table[str(size)] = [{**json.loads(k), "models": c} for k, c in counts.items()]
    return table


def stage1_meta(cfg: ExperimentConfig, stage1: dict[int, SizeOutputs]) -> dict:
    """:func:`mia_repro.report.run_meta` for results computed from ``stage1``: ``backend``, ``device``,
    ``device_name`` and ``trainer`` name the machine that *trained* the models (from their files;
    "mixed: a, b" when they differ; this process's values where no file records them), and
    ``stage1_trained_on`` gives :func:`trained_on_table`."""
    meta = run_meta(cfg, sorted(stage1))
    table = trained_on_table(stage1)
    for key in ("backend", "device", "device_name", "trainer"):
        values = sorted({r[key] for rows in table.values() for r in rows if key in r} - {"not recorded"})
        if values:
            meta[key] = values[0] if len(values) == 1 else "mixed: " + ", ".join(values)
    meta["stage1_trained_on"] = table
    return meta


def load_stage1(cfg: ExperimentConfig) -> dict[int, SizeOutputs]:
    """Load and check every size's cached Stage I outputs.

    :class:`Stage1Error` (naming the file and the command to run) if a model is
    missing, damaged or of an old format: ``stage1`` recomputes exactly those.
    """
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
                f"Run `{rerun_hint(cfg, 'stage1')}` first."
            )
        outs = []
        for j, p in zip(jobs, paths):
            try:
                outs.append(ModelOutputs.load(p, j.name, outputs_spec(cfg, splits, j), key=store.key(j, size, cfg.model)))
            except CacheEntryError as exc:
                raise Stage1Error(f"{exc}. Run `{rerun_hint(cfg, 'stage1')}`: it recomputes that model.") from None
        out[size] = SizeOutputs(size, outs[0], outs[1:])
    return out


def rerun_hint(cfg: ExperimentConfig, stage: str) -> str:
    """The command that runs ``stage`` for ``cfg``, repeating the user's overrides of the profile."""
    from .config import PROFILES

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
