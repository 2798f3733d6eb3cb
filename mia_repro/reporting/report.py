"""The reports a run writes: ``results/<profile>/REPORT.md`` and the index ``results/README.md``.

Both are generated from the JSON a run publishes, by :func:`profile_report` and :func:`results_index`, and
nothing else: every table is one of :mod:`mia_repro.reporting.tables` (or the pool's and the audit's), every
sentence that depends on a number is phrased from that number, and every figure is embedded by its path
relative to the report.  The CLI writes them at the end of every stage and ``reproduce`` after the last
notebook (:func:`write_reports`), so a committed report is what the generator writes from the committed
JSON; ``tests/reporting/test_report_files.py`` regenerates each one and compares.  No wall time enters a
report: a rerun from the caches changes nothing in it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mia_repro.base.cache import atomic_write
from mia_repro.reporting import compare_tables, mitigation_tables, tables
from mia_repro.evaluation.metrics import Metric

REPORT = "REPORT.md"
INDEX = "README.md"
#: the committed profiles' folders the index lists, in this order (a folder without summary.json is skipped)
INDEXED = ("quick", "paper")
RANDOM_TPR = 0.001  # TPR of random guessing at 0.1% FPR


def _load(folder: Path, name: str):
    path = folder / name
    return json.loads(path.read_text()) if path.exists() else None


def _figures(folder: Path, *names: str) -> list[str]:
    """Markdown images of the figures of ``names`` that exist in ``folder`` (relative paths)."""
    return [f"![{n[4:-4].replace('_', ' ')}]({n})" for n in names if (folder / n).exists()]


def _trainer(t) -> str:
    return t.get("name", "?") if isinstance(t, dict) else str(t)


def provenance_line(doc: dict) -> str:
    """One line naming what produced a result: profile, sizes, epochs, shadows, backend, device, trainer, seed."""
    sizes = doc.get("sizes")
    sizes = ", ".join(f"{int(n):,}" for n in (sizes if isinstance(sizes, (list, tuple)) else (sizes or {})))
    v = doc.get("versions", {})
    libs = ", ".join(f"{k} {v[k]}" for k in ("keras", "tensorflow", "jax", "torch", "sklearn", "numpy") if k in v)
    return (f"profile `{doc.get('profile')}` · sizes {sizes} · {doc.get('epochs')} epochs · {doc.get('n_shadows')} "
            f"shadows · backend {doc.get('backend')} · device {doc.get('device')} · trainer {_trainer(doc.get('trainer'))} · "
            f"seed {doc.get('seed')}" + (f" · {libs}" if libs else ""))


def _trend(values: list[float], digits: int = 3) -> str:
    word = "falls" if values[-1] < values[0] else "rises" if values[-1] > values[0] else "stays"
    return f"{word} ({values[0]:.{digits}f} → {values[-1]:.{digits}f})"


def stage2_section(folder: Path, summary: dict, seeds: dict | None) -> list[str]:
    sizes = list(summary["sizes"])
    blocks = [summary["sizes"][n] for n in sizes]
    att = [b["attack"] for b in blocks]
    lines = ["## Shokri et al.'s attack: per-class SVMs trained on the shadows", "",
             f"Target and {summary['n_shadows']} shadows per size, {summary['epochs']} epochs; one RBF SVM per class "
             "(C and gamma chosen by cross-validation on the shadows' records); the baseline is one global threshold "
             "on log p_y from the logits. Positive class = member; 2n target records per size, half members. "
             "AUC: the pooled AUC of the Platt-calibrated per-class scores (in brackets the raw pooled decision "
             "values and the mean per-class AUC).", "", tables.markdown_results(summary), ""]
    if len(sizes) > 1:
        lines.append(f"- From n = {int(sizes[0]):,} to n = {int(sizes[-1]):,} the SVM's precision "
                     f"{_trend([a['precision'] for a in att])}, its AUC {_trend([a['auc'] for a in att])}, and the "
                     f"target's test accuracy {_trend([b['target']['test_acc'] for b in blocks])}; the train–test gap "
                     f"the attack exploits is {min(b['target']['train_acc'] - b['target']['test_acc'] for b in blocks):.3f}"
                     f"–{max(b['target']['train_acc'] - b['target']['test_acc'] for b in blocks):.3f}.")
    paper = {n: tables.PAPER_FIG4_MEDIAN_PRECISION.get(int(n)) for n in sizes}
    if any(paper.values()):
        pairs = "; ".join(f"n = {int(n):,}: {np.median(summary['sizes'][n]['attack']['per_class']['precision']):.3f} "
                          f"(paper {paper[n]:.2f})" for n in sizes if paper[n])
        lines.append(f"- Median per-class precision, the statistic of the paper's Fig. 4: {pairs}.")
    lines.append(f"- The SVM minus the simple baseline, over the sizes: {tables.difference_range(summary, 'precision')} "
                 f"precision points and {tables.difference_range(summary, 'auc')} AUC points (unrounded values).")
    edges = sum(a.get("grid_edge_hits", 0) for a in att)
    plateaued = sum(a.get("grid_edge_plateaued", 0) for a in att)
    lines.append(f"- The CV optimum lies on the grid's edge for {edges} of {10 * len(att)} class models; one grid step "
                 f"beyond, {plateaued} of them gain less than one standard error of the CV estimate (plateaued).")
    weak = [f"{int(n):,}" for n, a in zip(sizes, att) if a[Metric.TPR_AT_0_1PCT_FPR.ci95][0] <= RANDOM_TPR]
    tprs = ", ".join(f"{a[Metric.TPR_AT_0_1PCT_FPR]:.4f}" for a in att)
    lines.append(f"- TPR at 0.1% FPR: {tprs}; its 95% interval "
                 + (f"includes random guessing (0.001) at n = {', '.join(weak)}." if weak else
                    "excludes random guessing (0.001) at every size."))
    lines += ["", *_figures(folder, "fig_per_class_precision.png", "fig_precision_recall_vs_size.png", "fig_roc.png",
                            "fig_target_accuracy.png", "fig_stage1_accuracy.png", "fig_stage1_training.png"), ""]
    if seeds:
        lines += ["### Seed-to-seed spread", "",
                  f"Seeds {', '.join(str(s) for s in seeds['seeds'])}: each changes the splits, the shadows' records "
                  "and every initialisation.", ""]
        for n in seeds["sizes"]:
            lines += [tables.markdown_seeds(seeds, n), ""]
    sens = _load(folder, "svm_sensitivity.json")
    if sens:
        lines += ["### The untuned SVM at fixed (C, gamma)", "",
                  "`*` marks the pair of `shokri_svm_fixed`; the last row is the tuned SVM.", "",
                  compare_tables.markdown_sensitivity(sens, summary), ""]
    return lines


def compare_section(folder: Path, result: dict) -> list[str]:
    lines = ["## Today's attacks on the same target", "",
             "Every attack fit on the attacker's data (shadows as OUT references, the population sample) and scored on "
             "the target's records; TPR with seeded bootstrap 95% intervals; sorted by TPR at 0.1% FPR.", ""]
    for n in result["sizes"]:
        lines += [compare_tables.markdown_attacks(result, n), ""]
    for n, blocks in result["sizes"].items():
        name, best = max(blocks.items(), key=lambda kv: (kv[1][Metric.TPR_AT_0_1PCT_FPR], kv[0]))
        svm = blocks.get("shokri_svm")
        versus = (f", against {svm[Metric.TPR_AT_0_1PCT_FPR]:.4f} for the tuned Shokri SVM" if svm and name != "shokri_svm"
                  else "")
        lines.append(f"- n = {int(n):,}: the most members at 0.1% FPR are caught by {best.get('label', name)} "
                     f"({best[Metric.TPR_AT_0_1PCT_FPR]:.4f}, AUC {best['auc']:.3f}){versus}.")
    if warned := regime_lines(result):
        lines += ["", "Attacks run where they are known to be unreliable:", "", *[f"- {w}" for w in warned]]
    lines += ["", *_figures(folder, "fig_attacks_roc.png", "fig_attacks_tpr_vs_size.png"), ""]
    return lines


def regime_lines(result: dict) -> list[str]:
    """The comparison's attacks that ran in a regime known to be unreliable: the warning an attack recorded
    (``info["warning"]``), else, for a block written before attacks recorded it, LiRA with per-record
    variances (its ``params``) from fewer than 16 OUT references (the shadows)."""
    from mia_repro.attacks.lira import RELIABLE_PER_RECORD_MIN

    shadows = result.get("n_shadows")
    out = []
    for name in dict.fromkeys(n for blocks in result["sizes"].values() for n in blocks):
        blocks = [b for b in result["sizes"].values() if name in b]
        warning = next((b["info"]["warning"] for b in (x[name] for x in blocks)
                        if isinstance(b.get("info"), dict) and b["info"].get("warning")), None)
        params = blocks[0][name].get("params") or {}
        per_record = params.get("variance") == "per_record" or params.get("global_variance") is False
        if warning is None and per_record and isinstance(shadows, int) and shadows < RELIABLE_PER_RECORD_MIN:
            warning = (f"{name}: per-record variances from {shadows} references per record (the shadows), fewer "
                       f"than {RELIABLE_PER_RECORD_MIN}: unreliable (Carlini et al. 2022, Sec. VI-A); "
                       f"lira_offline_global is the variant to read")
        if warning:
            out.append(warning)
    return out


def _strongest(records: list[dict], size: int, defense: str) -> float:
    values = {r["strength"] for r in records if r["size"] == size and r["defense"] == defense}
    return (min if defense in ("topk", "rounding", "dp") else max)(values)


def mitigation_section(folder: Path, records: list[dict], meta: dict) -> list[str]:
    lines = ["## Defenses, with an unaware and an aware attacker", "",
             "The unaware attacker reuses the undefended shadows' attack; the aware one trains its shadows with the "
             "defense. AUC of the SVM, the threshold baseline's in brackets (\"—\": not run).", "",
             mitigation_tables.markdown_mitigation(records, meta.get("threshold_baseline", [])), ""]
    if meta.get("attack_comparison"):
        lines += ["Today's attacks on the defended targets (aware / unaware):", "",
                  mitigation_tables.markdown_mitigation_attacks(records, meta), ""]
    row = {(r["size"], r["defense"], r["strength"], r["scenario"]): r for r in records}
    for size in sorted({r["size"] for r in records}):
        base = row.get((size, "none", 0.0, "aware")) or row.get((size, "none", 0.0, "unaware"))
        parts = []
        for defense in sorted({r["defense"] for r in records if r["size"] == size and r["defense"] != "none"},
                              key=lambda d: mitigation_tables.DEFENSE_ORDER.get(d, 9)):
            s = _strongest(records, size, defense)
            a, u = row.get((size, defense, s, "aware")), row.get((size, defense, s, "unaware"))
            first = a or u
            auc = (f"AUC {a['auc']:.3f} aware / {u['auc']:.3f} unaware" if a and u else
                   f"AUC {first['auc']:.3f} ({'aware' if a else 'unaware'} only)")
            parts.append(f"{defense} {mitigation_tables.strength_text(s)}: {auc}, test acc {first['target_test_acc']:.3f}")
        if base and parts:
            lines.append(f"- n = {size:,}, undefended AUC {base['auc']:.3f} at test acc {base['target_test_acc']:.3f}; "
                         "strongest settings — " + "; ".join(parts) + ".")
    gaps = [(a["auc"] - u["auc"], k) for k, a in row.items() if k[3] == "aware"
            for u in [row.get((*k[:3], "unaware"))] if u is not None]
    if gaps:
        gap, k = max(gaps)
        lines.append(f"- The largest amount by which the unaware attacker understates the aware one: {gap:+.3f} AUC "
                     f"({k[1]} {mitigation_tables.strength_text(k[2])} at n = {k[0]:,}).")
    lines += ["", *_figures(folder, "fig_mitigation_vs_strength.png", "fig_mitigation_bars.png", "fig_privacy_utility.png"),
              ""]
    if any(r["defense"] == "dp" for r in records):
        lines += ["### DP-SGD: the accountant's ε beside what the attacks prove", "",
                  "ε from the recorded schedule by the RDP and PLD accountants; the lower bound is a valid 95% bound: "
                  "its threshold chosen on a split of the records it is not evaluated on.", "",
                  mitigation_tables.markdown_dp(records, meta), ""]
        dp = [r for r in records if r["defense"] == "dp" and r.get("epsilon_lower_bound") is not None]
        if dp and max(r["epsilon_lower_bound"] for r in dp) == 0:
            lines.append(f"- Every valid lower bound of the {len(dp)} DP rows is 0: no attack proves any ε against "
                         "these targets (what the accountant's ε allows is an upper bound, not a measurement).")
        elif dp:
            top = max(dp, key=lambda r: (r["epsilon_lower_bound"], -r["strength"]))
            over = [r for r in dp if r["epsilon_lower_bound"] > r["epsilon"]]
            lines.append(f"- The largest lower bound over the DP rows is {top['epsilon_lower_bound']:.2f} (target ε "
                         f"{top['strength']:g}, n = {top['size']:,}, {top['scenario']}); "
                         + (f"{len(over)} row(s) exceed their accountant's ε." if over else
                            "no row exceeds its accountant's ε."))
        lines += ["", *_figures(folder, "fig_dp_accuracy.png", "fig_dp_attacks.png", "fig_dp_audit.png"), ""]
    return lines


def audit_section(folder: Path, doc: dict) -> list[str]:
    from mia_repro.experiment.stages.canary_audit import NOISE_SEED_NOTE
    from mia_repro.reporting.audit_report import markdown_audit, markdown_gdp

    a = doc["audit"]
    conf = f"{a['confidence']:.0%}"
    lines = ["## The one-run canary audit of DP-SGD", "",
             f"Canaries inserted into one training run, each with probability 1/2; every bound is a valid {conf} "
             "lower bound on ε from the canaries' guesses (Steinke, Nasr and Jagielski 2023; the choice of guess "
             "counts Bonferroni-corrected). White-box canaries are scored by the sum of their coordinate of the "
             "released noisy sums and by its likelihood ratio under the mechanism the accountant assumes. "
             f"\"Ideal run\": the same estimator on {a.get('ceiling_trials')} simulated runs of that mechanism itself "
             "(the subsampled Gaussian at the row's σ, q and steps, nothing but its noise at the canaries' "
             "coordinates), median [10–90%]; \"cap\": every guess right, the most these canaries can prove. "
             "\"Exceeds the claim\": a bound above the accountant's ε with each bound at the family's share of the "
             f"{100 * (1 - a['confidence']):g}% (Bonferroni). The broken trainers claim an ε they do not have.", "",
             markdown_audit(doc), ""]
    lines += _audit_findings(doc)
    lines += ["", NOISE_SEED_NOTE, "", *_figures(folder, "fig_audit_one_run.png"), "",
              "### The f-DP (Gaussian) one-run estimate", "",
              "The μ of μ-GDP that the same guesses reject (Mahloujifar, Melis and Chaudhuri 2024, one-sided guesses, "
              f"Bonferroni over the guess counts): a valid {conf} statement that the run is not μ-GDP for a smaller "
              "μ. In brackets the ε at the row's δ of that μ: an estimate, not a bound on the (ε, δ) claim, since it "
              "holds only if the trainer's privacy curve is Gaussian. The accountant's μ is DP-SGD's central-limit "
              "approximation q √(T (e^{1/σ²} − 1)).", "", markdown_gdp(doc), "",
              *_figures(folder, "fig_audit_gdp.png"), ""]
    return lines


def _audit_findings(doc: dict) -> list[str]:
    """The audit's findings in words, computed from its rows: each DP row's bound beside an ideal run of its
    mechanism, each broken trainer caught or not."""
    out = []
    for r in doc["rows"]:
        if r["claimed_epsilon"] is None:
            continue
        ideal, ideal_lr = r["ceiling"]["sum"]["epsilon"], r["ceiling"]["lr"]["epsilon"]
        if r["trainer"] == "dp-sgd":
            out.append(f"- `{r['label']}` (accountant ε {r['claimed_epsilon']:.2f}): bounds "
                       f"{r['one_run_epsilon_lower_bound']:.3f} (sum) and {r['lr_epsilon_lower_bound']:.3f} "
                       f"(likelihood ratio), where an ideal run of its mechanism shows {ideal['median']:.3f} and "
                       f"{ideal_lr['median']:.3f}; its canaries cap at {r['epsilon_cap']:.3f}.")
            continue
        bands = {"sum": (r["one_run_epsilon_lower_bound"], ideal),
                 "likelihood ratio": (r["lr_epsilon_lower_bound"], ideal_lr)}
        where = "; ".join(f"{name} {b:.3f} against an ideal run's 90th percentile {band['p90']:.3f}"
                          for name, (b, band) in bands.items())
        inside = all(b <= band["p90"] for b, band in bands.values())
        verdict = ("caught: a bound exceeds the claim" if r["exceeds_claim"] else
                   "not caught: no bound exceeds the claim, and " + (
                       "neither score's bound is above what an ideal run of the claimed mechanism shows" if inside
                       else "a bound is above what most ideal runs of the claimed mechanism show") + f" ({where})")
        out.append(f"- `{r['label']}` (trainer `{r['trainer']}`, claims ε {r['claimed_epsilon']:.2f}): {verdict}.")
    return out


def pool_section(folder: Path, doc: dict) -> list[str]:
    from mia_repro.reporting.pool_tables import markdown_pool

    lines = ["## A pool of reference models: online and offline LiRA and RMIA", "",
             f"{doc['pool']['n_models']} models at n = {doc['pool']['size']:,}, each on a random half of the pool's "
             "records; every target attacked with the others as references (leave one out).", "",
             markdown_pool(doc), ""]
    lines += [*_figures(folder, "fig_pool_roc.png", "fig_pool_power_curve.png", "fig_pool_flag_rates.png",
                        "fig_pool_gallery.png"), ""]
    return lines


def profile_report(folder: str | Path) -> str:
    """``REPORT.md`` of one results folder, from the JSON in it (every section whose file exists)."""
    folder = Path(folder)
    summary = _load(folder, "summary.json")
    first = summary or _load(folder, "attacks.json") or _load(folder, "mitigation_meta.json") or {}
    name = first.get("profile", folder.name)
    lines = [f"# Results: `{folder.name}`", "", "<!-- written by mia_repro.reporting.report from the JSON beside it; "
             "rerun a stage to regenerate -->", "", provenance_line(first) if first else "", ""]
    if name == "smoke":
        from mia_repro.experiment.profiles import profile_note

        lines += [f"**{profile_note('smoke')}**", ""]
    if summary:
        lines += stage2_section(folder, summary, _load(folder, "seeds/seeds.json"))
    if (result := _load(folder, "attacks.json")) is not None:
        lines += compare_section(folder, result)
    records, meta = _load(folder, "mitigation.json"), _load(folder, "mitigation_meta.json")
    if records and meta:
        lines += mitigation_section(folder, records, meta)
    if (doc := _load(folder, "audit.json")) is not None:
        lines += audit_section(folder, doc)
    if (doc := _load(folder, "pool.json")) is not None:
        lines += pool_section(folder, doc)
    notebooks = sorted(p.name for p in folder.glob("0*.ipynb") if not p.name.endswith(".failed.ipynb"))
    if notebooks:
        lines += ["## Executed notebooks", "", *[f"- [{n}]({n})" for n in notebooks], ""]
    return "\n".join(lines).rstrip() + "\n"


def results_index(root: str | Path) -> str:
    """``results/README.md``: the committed profiles with links to their reports, and the comparison with the
    paper (Shokri et al., Fig. 4) of every profile that has a ``summary.json``."""
    root = Path(root)
    present = [p for p in INDEXED if (root / p / "summary.json").exists()]
    summaries = {p: _load(root / p, "summary.json") for p in present}
    attacks = {p: a for p in present if (a := _load(root / p, "attacks.json")) is not None}
    lines = ["# Results", "", "<!-- written by mia_repro.reporting.report from results/*/summary.json; "
             "rerun a stage to regenerate -->", "",
             "| profile | sizes | epochs | shadows | backend / device | report |", "|---|---|---|---|---|---|"]
    for p, s in summaries.items():
        lines.append(f"| `{p}` | {', '.join(f'{int(n):,}' for n in s['sizes'])} | {s['epochs']} | {s['n_shadows']} | "
                     f"{s['backend']} / {s['device']} | [{p}/{REPORT}]({p}/{REPORT}) |")
    if summaries:
        lines += ["", "## Beside the paper", "",
                  "Median class precision / recall: over the ten per-class attack models, the statistic of the paper's "
                  "Fig. 4; pooled precision over all 2n target records; AUC calibrated pooled; the fixed SVM is "
                  "`shokri_svm_fixed` (one C and gamma for every class).", "",
                  tables.markdown_paper_comparison(summaries, attacks), ""]
        for p, s in summaries.items():
            diffs = [np.median(s["sizes"][n]["attack"]["per_class"]["precision"]) - tables.PAPER_FIG4_MEDIAN_PRECISION[int(n)]
                     for n in s["sizes"] if int(n) in tables.PAPER_FIG4_MEDIAN_PRECISION]
            gap = [s["sizes"][n]["target"]["train_acc"] - s["sizes"][n]["target"]["test_acc"] for n in s["sizes"]]
            train = [s["sizes"][n]["target"]["train_acc"] for n in s["sizes"]]
            med = [np.median(s["sizes"][n]["attack"]["per_class"]["precision"]) for n in s["sizes"]]
            if diffs:
                lines.append(f"- `{p}` ({s['epochs']} epochs): median class precision {min(diffs):+.3f} to "
                             f"{max(diffs):+.3f} from the paper's at the same sizes, and it {_trend(med)} with the "
                             f"training size (the paper's: 0.78 → 0.71); target train accuracy "
                             f"{min(train):.3f}–{max(train):.3f}, train–test gap {min(gap):.3f}–{max(gap):.3f}.")
    return "\n".join(lines).rstrip() + "\n"


def headline_table(root: str | Path, profile: str = "paper") -> str:
    """The README's headline: per size, the paper's Fig. 4 median class precision beside ``profile``'s (the
    tuned SVM), its AUC, and the attack of ``attacks.json`` that catches the most members at 0.1% FPR."""
    folder = Path(root) / profile
    summary, attacks = _load(folder, "summary.json"), _load(folder, "attacks.json") or {"sizes": {}}
    lines = [f"| n | Shokri et al. Fig. 4: median class precision | `{profile}`: median class precision | SVM AUC "
             "| SVM TPR@0.1%FPR | best attack at 0.1% FPR |", "|---|---|---|---|---|---|"]
    for n, b in summary["sizes"].items():
        a = b["attack"]
        blocks = attacks["sizes"].get(n, {})
        best = max(blocks.items(), key=lambda kv: (kv[1][Metric.TPR_AT_0_1PCT_FPR], kv[0])) if blocks else None
        paper = tables.PAPER_FIG4_MEDIAN_PRECISION.get(int(n))
        lines.append(f"| {int(n):,} | {'—' if paper is None else f'{paper:.2f}'} | "
                     f"{np.median(a['per_class']['precision']):.3f} | {a['auc']:.3f} | {a[Metric.TPR_AT_0_1PCT_FPR]:.4f} | "
                     + (f"{best[1].get('label', best[0])}: {best[1][Metric.TPR_AT_0_1PCT_FPR]:.4f}" if best else "—") + " |")
    return "\n".join(lines)


def _write(path: Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def write_reports(folder: str | Path, results_root: str | Path | None = None) -> list[Path]:
    """Write ``<folder>/REPORT.md``; and ``<results_root>/README.md`` when ``folder`` is one of the indexed
    profiles' folders under it.  Returns the paths written."""
    folder = Path(folder)
    written = [_write(folder / REPORT, profile_report(folder))]
    if results_root is not None and folder.parent.resolve() == Path(results_root).resolve() and folder.name in INDEXED:
        written.append(_write(Path(results_root) / INDEX, results_index(results_root)))
    return written
