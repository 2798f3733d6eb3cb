"""The per-model file of Stage I (:class:`ModelOutputs`), its format and its migration, and one size's
models together (:class:`SizeOutputs`).

A model's file is an ``.npz`` (format :data:`FORMAT`) with its digest sidecar (:mod:`mia_repro.base.cache`);
:meth:`ModelOutputs.load` trusts it only after the digest and a content check against what the plan asks
of that model (:class:`Expected`): its records and their membership, every array's shape, dtype and
finiteness, the population sample and augmentations it was queried on, the target's records (shadows) and,
for a DP-SGD model, its DP record, and the model's identity (config key and name) where the file holds it.
A file without its digest sidecar is retrained, never sealed silently; ``python -m mia_repro.tools.migrate seal``
seals files one trusts, after the same checks, saying what it sealed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mia_repro.base.cache import CacheEntryError, load_npz, save_npz, seal, sidecar
from typing import TYPE_CHECKING

from mia_repro.models.queries import QuerySpec

if TYPE_CHECKING:
    from mia_repro.training.jobs import TrainJob, TrainResult

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
        :class:`mia_repro.privacy.accounting.Schedule`), recorded in its file; None for an ordinary model."""
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

    def with_queries(self, queries: dict, spec: QuerySpec) -> "ModelOutputs":
        """These outputs completed with :meth:`QuerySpec.ask <mia_repro.models.queries.QuerySpec.ask>`'s
        arrays for ``spec`` (its ``reference`` is None for the target)."""
        return dataclasses.replace(
            self, logits=queries["logits"], pop_indices=spec.population,
            pop_logits=queries["pop_logits"], aug_names=spec.augmentations, aug_labels=queries["aug_labels"],
            ref_indices=spec.reference,
            ref_logits=queries.get("ref_logits"), inference_seconds=float(queries["inference_seconds"]),
            spec=public_spec(spec))

    def save(self, path: Path, key: str | None = None) -> None:
        """Write the file (atomically) and, with ``key``, its digest sidecar (:mod:`mia_repro.base.cache`)."""
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
        if key is not None:  # the model's identity inside its file: what it was trained for (config, seed, size, name)
            arrays["identity"] = np.array(json.dumps({"key": key, "name": self.name}, sort_keys=True))
        save_npz(path, key=key, **arrays)

    @classmethod
    def load(cls, path: Path, name: str, expect: Expected | None = None, key: str | None = None) -> "ModelOutputs":
        """Read one model's file; :class:`~mia_repro.base.cache.CacheEntryError` (naming ``path``) if it cannot be used.

        With ``key``, the file must carry that key and its digest (:func:`mia_repro.base.cache.verified_bytes`);
        a file without its digest sidecar is refused (and so retrained): nothing is sealed silently, a file
        one trusts is sealed deliberately with ``python -m mia_repro.tools.migrate seal FILE``.
        ``expect`` (:class:`Expected`) is checked against what the file holds (:meth:`check`).
        """
        if key is not None and path.exists() and not sidecar(path).exists():
            raise CacheEntryError(f"{path}: no digest beside it (deleted, or written outside the package; to keep "
                                  "a file you trust, seal it first with `python -m mia_repro.tools.migrate seal <file>`)")
        d = load_npz(path, key=key)
        check_identity(path, d, key, name)
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
            out.check(path, expect)
        return out

    def check(self, path: Path, expect: Expected) -> None:
        """:class:`CacheEntryError` naming ``path`` unless these outputs are what ``expect`` asks for: the own
        records and their membership (the first ``n_members``), the reference records (shadows), every
        array's shape and dtype, finite outputs (probabilities in [0, 1]), the population sample and the
        augmentations, and for a DP-SGD model its complete DP record (none for an ordinary model)."""
        spec = expect.spec
        n2, c = len(spec.own), self.probs.shape[-1] if self.probs.ndim == 2 else -1
        if self.indices.shape != (n2,) or not np.array_equal(self.indices, spec.own):
            raise CacheEntryError(f"{path}: holds other records than this config's model (folder reused?)")
        if self.member.shape != (n2,) or not np.array_equal(self.member, np.arange(n2) < expect.n_members):
            raise CacheEntryError(f"{path}: membership is not the first {expect.n_members} of its {n2} records")
        if spec.reference is not None and (self.ref_logits is None or self.ref_indices is None
                                           or not np.array_equal(self.ref_indices, spec.reference)):
            raise CacheEntryError(f"{path}: lacks this config's reference outputs on the target's records")
        arrays = {"probs": (self.probs, (n2, c), "f"), "logits": (self.logits, (n2, c), "f"),
                  "true_class": (self.true_class, (n2,), "i"),
                  "aug_labels": (self.aug_labels, (len(spec.augmentations), n2), "i"),
                  "pop_logits": (self.pop_logits, (len(spec.population), c), "f")}
        if spec.reference is not None:
            arrays["ref_logits"] = (self.ref_logits, (len(spec.reference), c), "f")
        for name, (arr, want, kind) in arrays.items():
            if arr.shape != want:
                raise CacheEntryError(f"{path}: {name} has shape {arr.shape}, expected {want}")
            if arr.dtype.kind not in (kind + "u" if kind == "i" else kind):
                raise CacheEntryError(f"{path}: {name} has dtype {arr.dtype}, expected "
                                      + ("an integer" if kind == "i" else "a float") + " dtype")
            if kind == "f" and not np.isfinite(arr).all():
                raise CacheEntryError(f"{path}: {name} holds {int((~np.isfinite(arr)).sum())} NaN or infinite "
                                      "value(s)")
        if self.probs.size and (self.probs.min() < 0 or self.probs.max() > 1):
            raise CacheEntryError(f"{path}: probs outside [0, 1]")
        if self.spec != public_spec(spec) or not np.array_equal(self.pop_indices, spec.population):
            raise CacheEntryError(f"{path}: computed for another population sample or augmentation list")
        dp = self.dp
        if expect.dp and not (isinstance(dp, dict) and all(
                isinstance(dp.get(k), (int, float)) and not isinstance(dp.get(k), bool) and (
                    np.isfinite(dp[k]) or (k in ("epsilon", "epsilon_pld") and dp[k] == np.inf
                                           and dp.get("noise_multiplier") == 0))  # σ = 0: ε = ∞, no privacy
                for k in DP_FIELDS)):
            raise CacheEntryError(f"{path}: a DP-SGD model's file without its complete DP record "
                                  f"({', '.join(DP_FIELDS)}): an ordinary model's file in a DP model's place?")
        if not expect.dp and dp is not None:
            raise CacheEntryError(f"{path}: an ordinary model's file holds a DP record: a DP model's file in its place?")


def check_identity(path: Path, d: dict, key: str | None, name: str) -> None:
    """:class:`CacheEntryError` if the file says it belongs to another model than ``key`` / ``name`` (a file of
    another model trained on the same records, copied here with a recomputed digest).  Files written before
    the identity was kept carry none and are judged by their digest and content alone."""
    if key is None or "identity" not in d:
        return
    try:
        ident = json.loads(str(d["identity"]))
        theirs = (ident["key"], ident["name"])
    except (ValueError, KeyError, TypeError):
        raise CacheEntryError(f"{path}: unreadable identity record") from None
    if theirs != (key, name):
        raise CacheEntryError(f"{path}: the file of another model ({theirs[1]}, trained for key {theirs[0]}), "
                              f"not of {name} (key {key})")


def public_spec(spec: QuerySpec) -> dict:
    """The JSON-able part of a :class:`~mia_repro.models.queries.QuerySpec` stored in each file."""
    return {"format": FORMAT, "population_size": int(len(spec.population)),
            "augmentations": list(spec.augmentations)}


#: the fields of a DP-SGD model's DP record (:class:`mia_repro.privacy.accounting.Schedule`)
DP_FIELDS = ("noise_multiplier", "sampling_rate", "steps", "clip_norm", "delta", "epsilon", "epsilon_pld")


@dataclass(frozen=True, eq=False)
class Expected:
    """What the plan asks of one model's file: its :class:`~mia_repro.models.queries.QuerySpec`, how many of
    its records are members (the first ``n_members``) and whether it was trained with DP-SGD (``dp``)."""

    spec: QuerySpec
    n_members: int
    dp: bool = False


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


def trained_part(path: Path, job: "TrainJob", key: str) -> ModelOutputs | None:
    """The training-time part (probs, history) of a file of any format, if it is readable, holds ``job``'s
    records, and verifies against ``key`` with its digest; None otherwise (then the model is retrained, never
    completed)."""
    try:
        d = load_npz(path, key=key)
        check_identity(path, d, key, job.name)
        if not np.array_equal(d["indices"], job.eval_indices) or d["probs"].shape[0] != len(job.eval_indices):
            return None
        return ModelOutputs(job.name, d["probs"], d["true_class"], d["member"].astype(bool), d["indices"],
                            float(d["train_acc"]), float(d["test_acc"]), json.loads(str(d["history"])),
                            float(d["seconds"]), str(d["trainer"]), trained_on=_trained_on(d))
    except (CacheEntryError, KeyError, ValueError):  # damaged, or without a training-time array: retrain
        return None


def _trained_on(d: dict) -> dict:
    """The ``trained_on`` record of a loaded file ({} in files written before it was kept)."""
    return json.loads(str(d["trained_on"])) if "trained_on" in d else {}
