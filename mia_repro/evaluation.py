"""Judging attacks: fit on the attacker's view, score the target's records, compare with their membership.

The one place where the target's membership labels meet an attack, after the attack has produced its
scores and decisions from the view alone.  Every stage (Stage II, the comparison, the mitigation sweep,
the SVM sensitivity table) and :func:`run_attacks` (one's own model) evaluate through
:func:`evaluate_attack`, so every published block has one layout (:meth:`AttackResult.block`) and every
per-record score file one set of arrays (:meth:`AttackResult.arrays`): ``member`` bool, ``true_class``
int64, ``score`` float64, ``pred`` int64 and ``threshold`` float64, the threshold applied to each record
(its class's, for per-class attacks), so that ``pred == (score >= threshold)`` holds in every file.

Imports numpy, pandas, scikit-learn and the attacks only (no Keras).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mia_repro.attacks import ATTACKS, AttackerView, MembershipAttack, new_attack, registry
from mia_repro.attacks.base import AttackInputError
from mia_repro.mistakes import OwnInputError, inversion_warning, misalignment_warning
from mia_repro.metrics import AttackMetrics, Metric, attack_metrics, check_member_score, metrics_by_class, score_ties

#: resamples behind every TPR@FPR interval of the stages' results
BOOTSTRAP = 200
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
        from mia_repro.metrics import FPR_LEVELS, TPRAtFPR

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


def evaluate_attack(attack: MembershipAttack, view: AttackerView, member, seed: int = 0,
                    bootstrap: int = BOOTSTRAP, fit: bool = True) -> AttackResult:
    """Fit ``attack`` on ``view`` (unless ``fit`` is False: an attack fitted before), score and decide on the
    target's records, and judge both against ``member`` bool (N,).  ``seed``: the bootstrap's."""
    member = np.asarray(member, dtype=bool)
    t0 = time.perf_counter()
    if fit:
        attack.fit(view)
    score = attack.decision_function(view)
    thresholds = attack.thresholds(view)
    pred = (score >= thresholds).astype(np.int64)  # what attack.predict(view) returns, without scoring twice
    seconds = time.perf_counter() - t0
    threshold = published_threshold(attack)
    return AttackResult(
        name=attack.name or type(attack).__name__, label=attack.label or type(attack).__name__,
        paper=attack.paper, params=jsonable({k: v for k, v in attack.get_params(deep=False).items() if k != "verbose"}),
        threshold=threshold,
        info=jsonable(attack.info_), seconds=seconds,
        scores={"member": member, "true_class": np.asarray(view.true_class, np.int64), "score": score,
                "pred": pred, "threshold": thresholds},
        metrics=attack_metrics(member, score, pred, bootstrap=bootstrap, seed=seed, threshold=threshold),
        ties=score_ties(member, score),
        per_class=metrics_by_class(member, view.true_class, score, pred, view.num_classes))


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
        from mia_repro.cache import save_json, save_npz

        base = Path(path)
        base = base.with_suffix("") if base.suffix in (".json", ".npz") else base
        js, npz = base.with_name(base.name + ".json"), base.with_name(base.name + ".npz")
        save_npz(npz, **{f"{name}/{k}": v for name, r in self.results.items() for k, v in r.scores.items()})
        save_json(js, {"attacks": list(self.results), "blocks": self.blocks, "skipped": self.skipped})
        return js, npz

    @classmethod
    def load(cls, path) -> "AttackResults":
        """What :meth:`save` wrote (``path`` with or without ``.json`` / ``.npz``)."""
        from mia_repro.cache import load_json, load_npz

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


def _why_not(cls: type, view: AttackerView) -> str | None:
    """Why attack class ``cls`` cannot run on ``view`` (its ``needs_*``), or None."""
    if cls.needs_references and not view.has_references:
        return "needs population= (reference outputs)"
    if cls.needs_augmentations and not view.target_aug_labels.shape[0]:
        return "needs augmented queries"
    if getattr(cls, "needs_in_references", False) and not view.has_in_references:
        return "an online attack: needs references trained with the target's records (a reference pool)"
    if cls.needs_logits and view.output_defense is not None:
        return "needs the target's logits"
    return None


def resolve_attacks(attacks, view: AttackerView, cfg=None, seed: int = 0) -> tuple[dict[str, MembershipAttack], dict]:
    """``({name: unfitted attack}, {name: why skipped})`` from ``attacks``: None (every attack of
    :data:`~mia_repro.attacks.ATTACKS` the view supports; the others skipped), a name, or a sequence of
    names and :class:`~mia_repro.attacks.MembershipAttack` instances (configured, or one's own subclass).
    An attack given explicitly that the view cannot serve is an :class:`AttackInputError`."""
    if attacks is None:
        chosen = {name: new_attack(name, cfg, seed) for name in ATTACKS}
        skipped = {name: why for name, a in chosen.items() if (why := _why_not(type(a), view))}
        return {n: a for n, a in chosen.items() if n not in skipped}, skipped
    items = [attacks] if isinstance(attacks, (str, MembershipAttack)) else list(attacks)
    if not items:
        raise AttackInputError("attacks: an empty list runs nothing; give attack names or instances, or None "
                               "for every attack the view supports")
    out = {}
    for item in items:
        if isinstance(item, str):
            if item not in registry.names():
                raise AttackInputError(f"attacks: unknown {item!r}; choose from {list(registry.names())}, "
                                       f"register your own (mia_repro.attacks.register) or pass attack instances")
            item = new_attack(item, cfg, seed)
        elif not isinstance(item, MembershipAttack):
            raise AttackInputError(f"attacks: names or MembershipAttack instances, got {type(item).__name__}")
        name = item.name or type(item).__name__
        if name in out:
            raise AttackInputError(f"attacks: {name!r} given twice")
        why = _why_not(type(item), view)
        if why:
            raise AttackInputError(f"{name}: {why} -- give it, or leave {name} out of attacks")
        out[name] = item
    return out, {}


def evaluate_view(attacks: dict[str, MembershipAttack], view: AttackerView, member, seed: int = 0,
                  bootstrap: int = BOOTSTRAP, log=print) -> dict[str, AttackResult]:
    """:func:`evaluate_attack` for each of ``attacks`` (``{name: unfitted attack}``), one log line each."""
    results = {}
    for name, attack in attacks.items():
        r = results[name] = evaluate_attack(attack, view, member, seed, bootstrap)
        m = r.metrics
        log(f"    {name:22s} AUC {m.auc:.3f}  TPR@1%FPR {m.tpr(0.01):.4f}  "
            f"TPR@0.1%FPR {m.tpr(0.001):.4f}  ({r.seconds:.1f}s)")
    return results


def run_attacks(view: AttackerView, member, attacks: Sequence | str | MembershipAttack | None = None, cfg=None,
                seed: int = 0, bootstrap: int = BOOTSTRAP) -> AttackResults:
    """Fit each of ``attacks`` on ``view``, score the target's records and evaluate against ``member`` bool (N,).

    ``attacks``: None (every attack of :data:`mia_repro.attacks.ATTACKS` the view supports; a warning names
    those it cannot run), or names and :class:`~mia_repro.attacks.MembershipAttack` instances (a configured
    ``RMIAOffline(a_grid=...)`` or a subclass of one's own).  ``cfg``: the SVMs' settings for attacks given by
    name (grid, subsamples; default :class:`~mia_repro.attacks.config.AttackConfig`); ``seed``: their subsampling
    and CV seed and the bootstrap's.  The attacks never see ``member``.
    """
    if not isinstance(view, AttackerView):
        raise OwnInputError(f"view: expected an AttackerView (view_from_models / view_from_arrays), "
                            f"got {type(view).__name__}")
    try:
        member, _ = check_member_score(member, np.zeros(len(np.asarray(member))), "member")
    except ValueError as exc:
        raise OwnInputError(str(exc)) from None
    if len(member) != len(view):
        raise OwnInputError(f"member: {len(member)} flags for the view's {len(view)} target records")
    if member.all() or not member.any():
        raise OwnInputError("member: the evaluation needs members and non-members among the target's records")
    for what, value in (("seed", seed), ("bootstrap", bootstrap)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise OwnInputError(f"{what}: a non-negative integer, got {value!r}"
                                + (" (0: no bootstrap intervals)" if what == "bootstrap" else ""))
    from mia_repro.attacks.config import AttackConfig

    if cfg is not None and not isinstance(cfg, AttackConfig):
        raise OwnInputError(f"cfg: an AttackConfig (the SVMs' settings), got {type(cfg).__name__}")
    try:
        chosen, skipped = resolve_attacks(attacks, view, cfg, seed)
    except OwnInputError:
        raise
    except AttackInputError as exc:
        raise OwnInputError(str(exc)) from None
    if skipped:
        warnings.warn("run_attacks: not run on this view: " + "; ".join(f"{a} ({why})" for a, why in skipped.items()),
                      UserWarning, stacklevel=2)
    lines = [attack.regime_warning(view) for attack in chosen.values()] + [misalignment_warning(view)]
    try:
        results = evaluate_view(chosen, view, member, seed, bootstrap, log=lambda *_: None)
    except OwnInputError:
        raise
    except AttackInputError as exc:  # what an attack found wrong with the view (e.g. a class no shadow holds)
        raise OwnInputError(str(exc)) from None
    lines.append(inversion_warning({name: r.metrics.auc for name, r in results.items()},
                                   int(member.sum()), int((~member).sum())))
    for line in filter(None, lines):
        warnings.warn(f"run_attacks: {line}", UserWarning, stacklevel=2)
    return AttackResults(results, skipped)


__all__ = ["AttackResult", "AttackResults", "BOOTSTRAP", "SCORE_ARRAYS", "evaluate_attack", "evaluate_view",
           "resolve_attacks", "run_attacks"]
