"""Every folder and file name of a run, in one object (:class:`Layout`); no other module spells one.

``results/<profile>/`` (or ``results_dir``) holds a run's published files and its caches::

    stage1/n<size>/<model>-<key>.npz              Stage I, one file per model (+ .digest.json)
    stage1/n<size>/weights/<model>-<key>.weights.npz   its weights (git-ignored)
    stage2/n<size>-<key>.json | .npz | -<fit key>.svms.npz  Stage II's cache entry of one size, its fitted SVMs
    stage2/ablation-n<size>-<key>.json      the subsample ablation's rows of one size
    attack_scores_<size>.npz                      Stage II's scores (a byte copy of the cached entry)
    compare/n<size>-<key>.json, compare/n<size>-<key>/<attack>.npz   the comparison's cache entry
    attack_scores/<attack>_<size>.npz             the comparison's scores (byte copies)
    mitigation/n<size>-<defense>-<strength>-<key>.json   one mitigation setting's rows (a DP setting: + .npz scores)
    dp_scores/dp_<epsilon>_<size>.npz             a DP target's per-record audit scores (byte copies)
    svm_sensitivity/n<size>-<key>.json            the fixed SVM's (C, gamma) rows of one size
    summary.json, attacks.json, mitigation.json, mitigation_meta.json, svm_sensitivity.json, fig_*.png
    seeds/seed<k>/ (a run per seed), seeds/seeds.json (their spread)
    stage1/n<size>/pool_<m>-<key>.npz             the reference pool's models (Stage I files)
    pool/pool-<key>.json | .npz                   the pool attacks' cache entry
    pool.json, pool_scores.npz                    the pool attacks' results and per-record arrays
    audit.json, audit_scores.npz                  the canary audit's bounds and per-record arrays
    audit/ceiling-<key>.json                      the ideal-mechanism ceiling of one audited schedule
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mia_repro.experiment.keys import config_key, plain
from mia_repro.base.paths import PROJECT_ROOT


def _readable(cfg, changed: tuple[str, ...]) -> str:
    """The changed settings' names for a custom run's folder (``l2_strengths``, ``n_shadows``, ``epochs`` ...):
    a section's own changed fields, not the section's name; at most 60 characters."""
    import dataclasses

    base, names = cfg.base(), []
    for n in changed:
        mine, theirs = getattr(cfg, n), getattr(base, n)
        if dataclasses.is_dataclass(mine):
            names += [f.name for f in dataclasses.fields(mine) if plain(getattr(mine, f.name)) != plain(getattr(theirs, f.name))
                      and getattr(mine, f.name) not in ((), (0.0,))]  # a sweep emptied by another's flag: not named
        else:
            names.append(n)
    names = list(dict.fromkeys(names))  # sizes and mitigation.sizes: named once
    return "-".join(names)[:60].rstrip("-") or "custom"


@dataclass(frozen=True)
class Layout:
    """Where one run reads and writes: ``output_dir`` (its results), ``stage1_root`` (Stage I's per-model
    files, possibly shared by several runs: every file's key holds all it depends on) and ``seeds_dir``."""

    output_dir: Path
    stage1_root: Path
    seeds_dir: Path

    @classmethod
    def at(cls, output_dir: str | Path) -> "Layout":
        """The layout of a results folder on its own (Stage I and seeds inside it)."""
        out = Path(output_dir)
        return cls(out, out / "stage1", out / "seeds")

    @classmethod
    def of(cls, cfg) -> "Layout":
        """The layout of an :class:`~mia_repro.experiment.config.ExperimentConfig`.

        ``output_dir``: ``results_dir`` when set; else ``results/<profile>/`` for the profile as it is, and
        ``results/<profile>-<changed settings>-<key>/`` for a config whose
        :meth:`~mia_repro.experiment.config.ExperimentConfig.changed_fields` are not empty (the key hashes
        their values), so that no other config overwrites a profile's committed results.
        ``stage1_root``: ``stage1_dir`` when set, else ``<results_dir>/stage1``, else the profile's
        ``results/<profile>/stage1`` (shared by every config of the profile).  ``seeds_dir``:
        ``<output_dir>/seeds``, except that a profile run on some of its sizes only keeps the profile's own
        ``results/<profile>/seeds`` (the spread beside the profile's headlines).
        """
        profile_dir = PROJECT_ROOT / "results" / cfg.profile
        changed = cfg.changed_fields()
        if cfg.results_dir is not None:
            output = Path(cfg.results_dir)
        elif not changed:
            output = profile_dir
        else:
            output = profile_dir.parent / f"{cfg.profile}-{_readable(cfg, changed)}-{config_key(*[(n, plain(getattr(cfg, n))) for n in changed])}"
        if cfg.stage1_dir is not None:
            stage1 = Path(cfg.stage1_dir)
        else:
            stage1 = (Path(cfg.results_dir) if cfg.results_dir is not None else profile_dir) / "stage1"
        base = cfg.base()
        seeds_changed = set(changed) - {"mitigation"}  # seeds run no mitigation
        if cfg.results_dir is None and seeds_changed <= {"sizes"} and set(cfg.sizes) <= set(base.sizes):
            seeds = profile_dir / "seeds"
        else:
            seeds = output / "seeds"
        return cls(output, stage1, seeds)

    # Stage I
    def stage1_model(self, size: int, name: str, key: str) -> Path:
        return self.stage1_root / f"n{size}" / f"{name}-{key}.npz"

    def stage1_weights(self, size: int, name: str, key: str) -> Path:
        return self.stage1_root / f"n{size}" / "weights" / f"{name}-{key}.weights.npz"

    # the reference pool (its models are Stage I files: stage1/n<size>/pool_<m>-<key>.npz)
    def pool_entry(self, key: str, ext: str) -> Path:
        return self.output_dir / "pool" / f"pool-{key}.{ext}"

    @property
    def pool_scores(self) -> Path:
        """The pool attacks' per-record arrays (a byte copy of the cached entry)."""
        return self.output_dir / "pool_scores.npz"

    @property
    def pool_doc(self) -> Path:
        return self.output_dir / "pool.json"

    # Stage II
    def stage2_block(self, size: int, key: str) -> Path:
        return self.output_dir / "stage2" / f"n{size}-{key}.json"

    def stage2_scores(self, size: int, key: str) -> Path:
        return self.output_dir / "stage2" / f"n{size}-{key}.npz"

    def stage2_svms(self, size: int, fit_key: str) -> Path:
        return self.output_dir / "stage2" / f"n{size}-{fit_key}.svms.npz"

    def stage2_ablation(self, size: int, key: str) -> Path:
        """The subsample ablation's rows of one size (:func:`mia_repro.experiment.stages.stage2.subsample_ablation`)."""
        return self.output_dir / "stage2" / f"ablation-n{size}-{key}.json"

    def attack_scores(self, size: int | str) -> Path:
        """Stage II's published scores of one size."""
        return self.output_dir / f"attack_scores_{size}.npz"

    # the attack comparison
    def compare_blocks(self, size: int, key: str) -> Path:
        return self.output_dir / "compare" / f"n{size}-{key}.json"

    def compare_scores(self, size: int, key: str, attack: str) -> Path:
        return self.output_dir / "compare" / f"n{size}-{key}" / f"{attack}.npz"

    def compared_scores(self, attack: str, size: int | str) -> Path:
        """The comparison's published scores of one attack at one size."""
        return self.output_dir / "attack_scores" / f"{attack}_{size}.npz"

    # mitigation and the SVM sensitivity
    def mitigation_setting(self, size: int, defense: str, strength: float, key: str) -> Path:
        return self.output_dir / "mitigation" / f"n{size}-{defense}-{strength:g}-{key}.json"

    def dp_scores(self, size: int, epsilon: float) -> Path:
        """A DP-SGD target's published per-record audit scores (a byte copy of its setting's score file)."""
        return self.output_dir / "dp_scores" / f"dp_{epsilon:g}_{size}.npz"

    def sensitivity_rows(self, size: int, key: str) -> Path:
        return self.output_dir / "svm_sensitivity" / f"n{size}-{key}.json"

    # published summaries and figures
    @property
    def summary(self) -> Path:
        return self.output_dir / "summary.json"

    @property
    def attacks(self) -> Path:
        return self.output_dir / "attacks.json"

    @property
    def audit(self) -> Path:
        return self.output_dir / "audit.json"

    def audit_ceiling(self, key: str) -> Path:
        """The simulated ceiling of one audited schedule (:func:`mia_repro.privacy.ceiling.ideal_ceiling`)."""
        return self.output_dir / "audit" / f"ceiling-{key}.json"

    @property
    def audit_scores(self) -> Path:
        return self.output_dir / "audit_scores.npz"

    @property
    def mitigation(self) -> Path:
        return self.output_dir / "mitigation.json"

    @property
    def mitigation_meta(self) -> Path:
        return self.output_dir / "mitigation_meta.json"

    @property
    def svm_sensitivity(self) -> Path:
        return self.output_dir / "svm_sensitivity.json"

    def figure(self, name: str) -> Path:
        """A figure's file (``name`` like ``fig_roc.png``)."""
        return self.output_dir / name

    # several seeds
    def seed_run(self, seed: int) -> Path:
        return self.seeds_dir / f"seed{seed}"

    @property
    def seeds(self) -> Path:
        return self.seeds_dir / "seeds.json"
