"""What judging an attack yields: :class:`AttackResult` (one attack on one target) and :class:`AttackResults`
(several, as :func:`~mia_repro.evaluation.evaluate.run_attacks` returns them).

Every published block has one layout (:meth:`AttackResult.block`) and every per-record score file one set
of arrays (:meth:`AttackResult.arrays`, :data:`SCORE_ARRAYS`): ``member`` bool, ``true_class`` int64,
``score`` float64, ``pred`` int64 and ``threshold`` float64, the threshold applied to each record (its
class's, for per-class attacks), so that ``pred == (score >= threshold)`` holds in every file.

Imports numpy, pandas and the attacks only (no Keras).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mia_repro.attacks import MembershipAttack
from mia_repro.evaluation.metrics import AttackMetrics, Metric
from mia_repro.views.mistakes import OwnInputError

#: the per-record arrays of every attack's score file
SCORE_ARRAYS = ("member", "true_class", "score", "pred", "threshold")


def jsonable(value):
    """``value`` with numpy scalars and arrays, tuples and dataclass-like configs made JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return jsonable(dataclasses.asdict(value))
    return repr(value)


def published_threshold(attack: MembershipAttack):
    """``threshold_`` as published: one float, or a list of one float per class."""
    t = np.asarray(attack.threshold_, dtype=np.float64)
    return float(t) if t.ndim == 0 else [float(v) for v in t]


@dataclass(repr=False)
class AttackResult:
    """One attack judged on one target: what it is (``name``, ``label``, ``paper``, ``params``: the
    constructor's, but ``verbose``, which changes no result), what it
    chose on the attacker's data (``threshold``: a float or one per class, ``info``), the fit-and-score
    ``seconds``, its per-record ``scores`` (:data:`SCORE_ARRAYS`), ``metrics`` (:class:`AttackMetrics`),
    the ``ties`` in its scores and its ``per_class`` metrics."""

    name: str
    label: str
    paper: str
    params: dict
    threshold: float | list[float]
    info: dict
    seconds: float
    scores: dict[str, np.ndarray]
    metrics: AttackMetrics
    ties: dict
    per_class: dict

    @property
    def threshold_kind(self) -> str:
        return "per-class" if isinstance(self.threshold, list) else "global"

    def block(self) -> dict:
        """The JSON block of this result (``attacks.json``'s layout)."""
        return {"label": self.label, "paper": self.paper, "params": self.params, "threshold": self.threshold,
                "threshold_kind": self.threshold_kind, "seconds": self.seconds, "info": self.info,
                **self.metrics.to_dict(), "ties": self.ties, "per_class": self.per_class}

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-record arrays of its score file (:data:`SCORE_ARRAYS`)."""
        return dict(self.scores)

    @classmethod
    def from_block(cls, name: str, block: dict, arrays: dict) -> "AttackResult":
        """The result a :meth:`block` and its :meth:`arrays` were written from (metrics recomputed from the
        arrays would give the same numbers; here they are read back as published)."""
        tpr_at = {}
        from mia_repro.evaluation.metrics import FPR_LEVELS, TPRAtFPR

        for key, level in FPR_LEVELS.items():
            ci = block.get(f"{key}_ci95")
            tpr_at[key] = TPRAtFPR(level, block[key], block["fp_allowed"][key], tuple(ci) if ci else None)
        metrics = AttackMetrics(**{k: block[k] for k in (Metric.PRECISION, Metric.RECALL, Metric.ACCURACY, Metric.BALANCED_ACCURACY,
                                                         Metric.AUC, Metric.ADVANTAGE_AT_DECISION, Metric.ADVANTAGE_MAX,
                                                         "n_members", "n_nonmembers")},
                                tpr_at=tpr_at, threshold=block["threshold"])
        return cls(name, block["label"], block["paper"], block.get("params", {}), block["threshold"],
                   block.get("info", {}), block.get("seconds", float("nan")),
                   {k: np.asarray(arrays[k]) for k in SCORE_ARRAYS}, metrics, block["ties"], block["per_class"])

    def __repr__(self) -> str:
        return (f"AttackResult({self.name}: AUC {self.metrics.auc:.3f}, TPR@0.1%FPR "
                f"{self.metrics.tpr(0.001):.4f}, {len(self.scores['member'])} records)")


def _interval(m: AttackMetrics, key: str) -> str:
    t = m.tpr_at[key]
    if t.fp_allowed < 1:
        return f"not measurable ({t.level:.1%} of {m.n_nonmembers} non-members is no false positive)"
    return f"[{t.ci95[0]:.3f}, {t.ci95[1]:.3f}]" if t.ci95 else "—"


def _tpr(m: AttackMetrics, key: str) -> float:
    """The TPR at ``key``'s level, NaN where the level allows no false positive (it is the TPR at 0 FPR there)."""
    t = m.tpr_at[key]
    return t.tpr if t.fp_allowed >= 1 else float("nan")


@dataclass(repr=False)
class AttackResults:
    """What :func:`run_attacks` returns: per attack an :class:`AttackResult` (``results``) and the attacks
    that did not run with why (``skipped``).  ``summary()`` is a readable table, ``to_frame()`` every
    number, ``save(path)`` / :meth:`load` round-trip through ``<path>.json`` + ``<path>.npz`` (no pickle)."""

    results: dict[str, AttackResult]
    skipped: dict = field(default_factory=dict)

    @property
    def blocks(self) -> dict[str, dict]:
        """Per attack the JSON block (:meth:`AttackResult.block`)."""
        return {name: r.block() for name, r in self.results.items()}

    @property
    def scores(self) -> dict[str, dict[str, np.ndarray]]:
        """Per attack the per-record arrays (:data:`SCORE_ARRAYS`)."""
        return {name: r.scores for name, r in self.results.items()}

    def __getitem__(self, name: str) -> AttackResult:
        return self.results[name]

    def summary(self) -> pd.DataFrame:
        """One row per attack: AUC, TPR at 1% and 0.1% FPR with bootstrap 95% intervals, precision and
        recall of the attack's own decision, the counts behind them.  With the false positives each level
        allows (``FP allowed``: floor(level x non-members)); where that is 0 the TPR is NaN and its interval
        reads "not measurable" (below 1,000 non-members at 0.1%)."""
        rows = []
        for name, r in self.results.items():
            m = r.metrics
            fp = {k: m.tpr_at[k].fp_allowed for k in (Metric.TPR_AT_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR)}
            rows.append({"attack": name, "variant": r.label, "AUC": m.auc,
                         "TPR@1%FPR": _tpr(m, Metric.TPR_AT_1PCT_FPR), "95% CI @1%": _interval(m, Metric.TPR_AT_1PCT_FPR),
                         "FP allowed @1%": fp[Metric.TPR_AT_1PCT_FPR],
                         "TPR@0.1%FPR": _tpr(m, Metric.TPR_AT_0_1PCT_FPR),
                         "95% CI @0.1%": _interval(m, Metric.TPR_AT_0_1PCT_FPR),
                         "FP allowed @0.1%": fp[Metric.TPR_AT_0_1PCT_FPR],
                         "precision": m.precision, "recall": m.recall, "members": m.n_members,
                         "non-members": m.n_nonmembers})
        return pd.DataFrame(rows).set_index("attack")

    def to_frame(self) -> pd.DataFrame:
        """One row per attack with every metric (the block's scalars), the threshold kind and the seconds."""
        rows = []
        for name, r in self.results.items():
            row = {"attack": name, "variant": r.label, "threshold_kind": r.threshold_kind, "seconds": r.seconds}
            for k, v in r.metrics.to_dict().items():
                if isinstance(v, list):
                    row[f"{k}_lo"], row[f"{k}_hi"] = v
                elif not isinstance(v, dict):
                    row[k] = v
            rows.append(row)
        return pd.DataFrame(rows).set_index("attack")

    def per_record(self, record_ids=None) -> pd.DataFrame:
        """Per-record risk: one row per target record, indexed by ``record_ids`` (N,) (e.g. the dataset
        indices the records came from; None: 0..N-1), with its membership, its true class and, per attack,
        its score (larger = more member) and decision -- sorted by nothing, so that rows line up with the
        target's records."""
        first = next(iter(self.results.values()), None)
        if first is None:
            raise OwnInputError("per_record: no attack ran, so there is no per-record score")
        n = len(first.scores["score"])
        ids = np.arange(n) if record_ids is None else np.asarray(record_ids)
        if ids.shape != (n,) or len(np.unique(ids)) != n:
            raise OwnInputError(f"record_ids: {n} distinct ids (one per target record), got shape {ids.shape}"
                                f"{'' if ids.shape != (n,) else ' with repeats'}")
        frame = {"member": first.scores["member"].astype(bool), "true_class": first.scores["true_class"]}
        for name, r in self.results.items():
            frame[f"{name} score"] = r.scores["score"]
            frame[f"{name} pred"] = r.scores["pred"].astype(bool)
        return pd.DataFrame(frame, index=pd.Index(ids, name="record id"))

    def save(self, path) -> tuple[Path, Path]:
        """Write ``<path>.json`` (blocks, skipped) and ``<path>.npz`` (``<attack>/<array>`` per record);
        returns both paths."""
        from mia_repro.base.cache import save_json, save_npz

        base = Path(path)
        base = base.with_suffix("") if base.suffix in (".json", ".npz") else base
        js, npz = base.with_name(base.name + ".json"), base.with_name(base.name + ".npz")
        save_npz(npz, **{f"{name}/{k}": v for name, r in self.results.items() for k, v in r.scores.items()})
        save_json(js, {"attacks": list(self.results), "blocks": self.blocks, "skipped": self.skipped})
        return js, npz

    @classmethod
    def load(cls, path) -> "AttackResults":
        """What :meth:`save` wrote (``path`` with or without ``.json`` / ``.npz``)."""
        from mia_repro.base.cache import load_json, load_npz

        base = Path(path)
        base = base.with_suffix("") if base.suffix in (".json", ".npz") else base
        doc = load_json(base.with_name(base.name + ".json"))
        arrays = load_npz(base.with_name(base.name + ".npz"))
        results = {name: AttackResult.from_block(name, doc["blocks"][name],
                                                 {k: arrays[f"{name}/{k}"] for k in SCORE_ARRAYS})
                   for name in doc["attacks"]}
        return cls(results, doc.get("skipped", {}))

    def __repr__(self) -> str:
        aucs = ", ".join(f"{name} {r.metrics.auc:.3f}" for name, r in self.results.items())
        skipped = f"; skipped {sorted(self.skipped)}" if self.skipped else ""
        return f"AttackResults({len(self.results)} attacks, AUC: {aucs}{skipped})"


__all__ = ["AttackResult", "AttackResults", "SCORE_ARRAYS", "jsonable", "published_threshold"]
