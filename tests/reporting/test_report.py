import json

import numpy as np
import pytest

from fakes import fake_size
from mia_repro.reporting import compare_tables, mitigation_tables
from mia_repro.reporting import tables as report
from mia_repro.experiment.profiles import get_config
from mia_repro.data.splits import make_splits


def test_config_table_lists_every_field():
    df = report.config_table(get_config("quick"))
    assert {"experiment", "model", "attack", "mitigation"} <= set(df["section"])
    assert df.query("field == 'epochs'")["value"].iloc[0] == "10"


def test_splits_table_reports_no_target_overlap():
    df = report.splits_table({50: make_splits(1000, 50, 3, 0)})
    row = df.iloc[0]
    assert row["shadow ∩ target"] == 0 and row["target members"] == 50 and row["shadows"] == 3


def test_stage1_and_dataset_tables():
    stage1 = {100: fake_size(100, n_shadows=2)}
    df = report.stage1_table(stage1)
    assert list(df["model"]) == ["target", "shadow_00", "shadow_01"]
    np.testing.assert_allclose(df["gap"], df["train acc"] - df["test acc"])
    assert report.dataset_table(np.array([0, 0, 9]))["records"].tolist() == [2] + [0] * 8 + [1]


def test_attack_mitigation_and_ablation_tables():
    pc = {k: [0.5] * 10 for k in ("precision", "recall", "accuracy", "auc", "C", "gamma", "edge_hit")}
    block = {"target": {"train_acc": 0.9, "test_acc": 0.5},
             "attack": {"precision": 0.7, "recall": 0.8, "accuracy": 0.72, "auc": 0.75, "tpr_at_1pct_fpr": 0.05,
                        "tpr_at_0.1pct_fpr": 0.01, "per_class": pc, "grid_edge_hits": 2},
             "baseline": {"precision": 0.69, "recall": 0.8, "accuracy": 0.7, "auc": 0.74}}
    df = report.attack_table({"sizes": {"2500": block}})
    assert df.loc[0, "SVM precision"] == 0.7 and df.loc[0, "threshold AUC"] == 0.74
    assert len(report.per_class_table({"sizes": {"2500": block}}, 2500)) == 10
    rows = [dict(defense=d, strength=s, size=100, scenario=sc, target_train_acc=0.9, target_test_acc=0.5,
                 precision=0.6, recall=0.5, auc=a, **{"tpr_at_0.1pct_fpr": 0.0})
            for d, s, a in (("none", 0.0, 0.7), ("l2", 1e-3, 0.6)) for sc in ("unaware", "aware")]
    t = mitigation_tables.mitigation_table(rows, rows)
    assert list(t["defense"]) == ["none", "l2"] and "SVM auc (aware)" in t and "threshold auc (unaware)" in t
    assert list(t.round(3)["strength"]) == ["0", "0.001"] and mitigation_tables.strength_text(1e-4) == "0.0001"
    ab = report.ablation_table([{"precision": 0.6, "auc": 0.7}, {"precision": 0.65, "auc": 0.69}])
    assert ab["Δprecision vs first"].tolist() == pytest.approx([0, 0.05])


def test_run_meta_names_provenance():
    meta = report.run_meta(get_config("smoke"))
    assert meta["profile"] == "smoke" and meta["sizes"] == ["200", "400"] and meta["backend"] and meta["seed"] == 0


@pytest.mark.training
def test_bench_runs_both_trainers_and_prints_a_ratio(capsys):
    from mia_repro.tools import bench

    assert bench.main(["--k", "2", "--n", "16", "--epochs", "1", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "ratio sequential/stacked" in out and "per model-epoch" in out


@pytest.mark.training
def test_bench_times_a_dp_step_against_an_ordinary_one(capsys):
    from mia_repro.tools import bench

    assert bench.main(["--dp", "--batch-size", "4", "--dp-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "ratio DP-SGD/ordinary" in out and "ms" in out
    r = json.loads(out.strip().splitlines()[-1])
    assert r["ratio_dp_over_ordinary"] == pytest.approx(r["dp_ms_per_step"] / r["ordinary_ms_per_step"])
    assert (r["batch_size"], r["steps"], r["rounds"]) == (4, 2, 3)


def test_markdown_results_has_one_row_per_size():
    b = {"target": {"train_acc": 0.9, "test_acc": 0.5},
         "attack": {"precision": 0.7, "recall": 0.8, "auc": 0.75, "tpr_at_0.1pct_fpr": 0.01, "auc_raw_pooled": 0.74,
                    "auc_mean_per_class": 0.76, "advantage_at_decision": 0.3, "advantage_max": 0.35,
                    "tpr_at_0.1pct_fpr_ci95": [0.005, 0.02]},
         "baseline": {"precision": 0.69, "auc": 0.74}}
    md = report.markdown_results({"sizes": {"2500": b, "5000": b}})
    rows = md.splitlines()
    assert len(rows) == 4 and rows[2].startswith("| 2,500 | 0.900 | 0.500 | 0.700")
    assert "0.750 (0.740, 0.760)" in rows[2] and "0.300 / 0.350" in rows[2] and "[0.0050, 0.0200]" in rows[2]


def test_difference_range_uses_unrounded_values():
    # rounded to 3 places both AUC differences would read 0.011 and 0.017; exact: 1.11 and 1.62 points
    summary = {"sizes": {"2500": {"attack": {"auc": 0.71015}, "baseline": {"auc": 0.69905}},
                         "5000": {"attack": {"auc": 0.70245}, "baseline": {"auc": 0.68625}}}}
    assert report.difference_range(summary, "auc") == "+1.11 to +1.62"


def test_notebook_failure_shows_the_exception_line_not_a_truncated_dump():
    from papermill.exceptions import PapermillExecutionError

    from mia_repro.tools.reproduce import failure_line

    tb = ["x" * 5000]  # a long traceback must not push the exception out of the message
    exc = PapermillExecutionError(cell_index=4, exec_count=3, source="run_stage2(cfg)\nmore", traceback=tb,
                                  ename="Stage1Error", evalue="Stage I has not run")
    exc.notebook = "02_stage2_attack.ipynb"
    line = failure_line(exc)
    assert line == "02_stage2_attack.ipynb: cell 3 (run_stage2(cfg)) raised Stage1Error: Stage I has not run"


@pytest.mark.training
def test_bench_determinism_mode_prints_both_timings_and_the_ratio(capsys):
    from mia_repro.tools import bench

    assert bench.main(["--determinism", "--k", "1", "--n", "16", "--epochs", "1", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "default kernels" in out and "deterministic kernels" in out and "ratio deterministic/default" in out


@pytest.mark.training
def test_bench_steps_per_execution_mode_times_each_value_and_checks_the_weights(capsys, tmp_path):
    import json

    from mia_repro.tools import bench

    args = ["--steps-per-execution", "1", "3", "--k", "1", "--n", "16", "--epochs", "1", "--batch-size", "4"]
    assert bench.main([*args, "--json", str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "steps_per_execution    1:" in out and "steps_per_execution    3:" in out and "ratio to 1" in out
    r = json.loads((tmp_path / "b.json").read_text())
    assert r["spe1_ratio_to_spe1"] == 1.0 and r["spe3_s_per_model_epoch"] > 0
    assert r["spe3_same_weights"] is True  # 16 records / batch 4 = 4 steps: calls of 3 + 1 step
    with pytest.raises(SystemExit):
        bench.main(["--steps-per-execution", "0"])


def test_seed_tables_show_every_seed_and_the_spread():
    from mia_repro.experiment.stages.seeds import spread

    sp = spread([0.70, 0.72, 0.74])
    assert sp["mean"] == pytest.approx(0.72) and sp["std"] == pytest.approx(0.02)
    metrics = {m: spread([0.1, 0.2, 0.3]) for m in ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr")}
    seeds = {"seeds": [0, 1, 2], "sizes": {"2500": {"target_train_acc": sp, "target_test_acc": sp,
                                                   "svm": metrics, "attacks": {"lira_offline": metrics}}}}
    md = report.markdown_seeds(seeds, 2500)
    assert "| target test acc | 0.700 / 0.720 / 0.740 | 0.720 ± 0.020 |" in md
    assert "| lira_offline TPR@0.1%FPR | 0.1000 / 0.2000 / 0.3000 | 0.2000 ± 0.1000 |" in md
    assert len(report.seed_table(seeds)) == 2 + 3 + 3
    assert "Stage II SVM" not in md  # the same numbers as the shokri_svm rows


def test_reproduce_only_selects_notebooks_and_rejects_unknown_names():
    from mia_repro.base.errors import ConfigError
    from mia_repro.tools.reproduce import NOTEBOOKS, select_notebooks

    assert select_notebooks(None) == list(NOTEBOOKS)
    assert select_notebooks(("04", "01")) == ["01_stage1_target_and_shadows.ipynb", "04_beyond_shokri.ipynb"]
    with pytest.raises(ConfigError, match="no notebook starts with '07'"):
        select_notebooks(("07",))


def test_paper_comparison_puts_the_papers_fig4_beside_each_run_and_leaves_missing_sizes_out():
    def block(train, test, precisions, recalls, auc):
        return {"target": {"train_acc": train, "test_acc": test},
                "attack": {"precision": 0.6, "auc": auc, "per_class": {"precision": precisions, "recall": recalls}}}
    run = {"epochs": 100, "sizes": {"2500": block(1.0, 0.45, [0.9, 0.7, 0.8], [1.0, 0.9, 0.95], 0.85)}}
    df = report.paper_comparison_table({"paper": run})
    assert list(df["size n"]) == [2500, 2500, 5000, 10000, 15000]  # the paper's rows at every size
    mine = df[df.source == "paper"].iloc[0]
    assert mine["median class precision"] == 0.8 and mine["median class recall"] == 0.95
    assert df.loc[df.source.str.startswith("Shokri"), "median class precision"].tolist() == [0.78, 0.74, 0.72, 0.71]
    md = report.markdown_paper_comparison({"paper": run}).splitlines()
    assert md[2] == "| 2,500 | Shokri et al. Fig. 4 | ≤100 | — | — | 0.78 | — | — | ≈1.0 | — |"
    assert md[3] == "| 2,500 | paper | 100 | 1.000 | 0.450 | 0.800 | — | 0.600 | 0.950 | 0.850 |"
    assert "≈0.6" in md[-1]
    # with the comparison: the untuned SVM's median class precision beside the tuned one's
    cmp = {"sizes": {"2500": {"shokri_svm_fixed": {"per_class": {"precision": [0.5, 0.9, 0.6, float("nan")]}}}}}
    df = report.paper_comparison_table({"paper": run}, {"paper": cmp})
    assert df[df.source == "paper"].iloc[0]["fixed SVM median class precision"] == 0.6
    md = report.markdown_paper_comparison({"paper": run}, {"paper": cmp}).splitlines()
    assert md[3] == "| 2,500 | paper | 100 | 1.000 | 0.450 | 0.800 | 0.600 | 0.600 | 0.950 | 0.850 |"


def test_sensitivity_markdown_marks_the_default_and_adds_the_tuned_row():
    result = {"default": [1.0, 0.1], "pairs": [[0.1, 0.1], [1.0, 0.1]],
              "sizes": {"2500": [{"median_class_precision": 0.7, "median_class_recall": 0.9, "auc": 0.8},
                                 {"median_class_precision": 0.75, "median_class_recall": 0.95, "auc": 0.85}]}}
    tuned = {"sizes": {"2500": {"attack": {"auc": 0.9, "per_class": {"precision": [0.8, 0.9, 1.0],
                                                                     "recall": [1.0, 1.0, 0.5]}}}}}
    md = compare_tables.markdown_sensitivity(result, tuned).splitlines()
    assert md[2] == "| 0.1 | 0.1 | 0.700 [0.900, 0.800] |"
    assert md[3] == "| 1 * | 0.1 * | 0.750 [0.950, 0.850] |"
    assert md[4] == "| tuned per class | by CV | 0.900 [1.000, 0.900] |"


def test_machines_table_lists_each_size_and_machine():
    row = {"trainer": "stacked", "backend": "jax", "device": "gpu", "device_name": "H100", "models": 11}
    df = report.machines_table({"stage1_trained_on": {"2500": [row], "5000": [row, {**row, "models": 1}]}})
    assert list(df["size n"]) == [2500, 5000, 5000] and df["models"].sum() == 23
    assert report.machines_table({}).empty


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "error: seed: "), (["--data", "/nonexistent/cifar"], "error: --data /nonexistent/cifar: no such folder"),
    (["--only", ""], "error: --only: empty notebook name"), (["--only", "99"], "error: --only: no notebook starts with '99'"),
])
def test_reproduce_rejects_bad_arguments_before_creating_anything(args, message, tmp_path, capsys):
    from mia_repro.tools.reproduce import main

    assert main(["--profile", "smoke", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_reproduce_rejects_an_out_that_is_a_file(tmp_path, capsys):
    from mia_repro.tools.reproduce import main

    (tmp_path / "f").write_text("x")
    assert main(["--profile", "smoke", "--out", str(tmp_path / "f")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.integration
def test_a_notebook_that_stops_midway_never_looks_complete(tmp_path, real_data):
    import nbformat

    from mia_repro.tools.reproduce import NOTEBOOKS, execute_notebooks

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'smoke'\ndata_path = seed = results_dir = None"),
                nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise RuntimeError('stops here')"),
                nbformat.v4.new_code_cell("y = 2")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, tmp_path / "nbs" / NOTEBOOKS[0])
    out = tmp_path / "out"
    out.mkdir()
    (out / NOTEBOOKS[0]).write_text("the complete notebook of an earlier run")
    with pytest.raises(Exception, match="stops here"):
        execute_notebooks("smoke", out, notebook_dir=tmp_path / "nbs", only=("01",), log=lambda *a, **k: None)
    assert (out / NOTEBOOKS[0]).read_text() == "the complete notebook of an earlier run"  # not replaced
    failed = nbformat.read(out / NOTEBOOKS[0].replace(".ipynb", ".failed.ipynb"), as_version=4)
    assert failed.cells[-1].execution_count is None  # the cell after the failure is not marked as run
    assert not list(out.glob(".*.running.ipynb"))


def test_mitigation_attacks_table_shows_a_dash_where_a_scenario_did_not_run():
    def rec(scenario, auc):
        return {"size": 5000, "defense": "l2", "strength": 0.001, "scenario": scenario, "target_train_acc": 0.8,
                "target_test_acc": 0.5, "precision": 0.6, "auc": auc}
    meta = {"attack_comparison": [{"size": 5000, "defense": "l2", "strength": 0.001, "scenario": "unaware",
                                   "attack": a, "tpr_at_0.1pct_fpr": 0.0123} for a in ("lira_offline", "rmia_offline")]}
    md = mitigation_tables.markdown_mitigation_attacks([rec("unaware", 0.7)], meta).splitlines()
    assert md[2] == "| 5,000 | l2 | 0.001 | 0.800 / 0.500 | — / 0.600 | — / 0.700 | — / 0.0123 | — / 0.0123 |"


def test_a_relative_out_is_resolved_once(tmp_path, monkeypatch, real_data):
    """`--out rel` from another working directory: the notebook and what it writes both land in <cwd>/rel (the
    notebooks run with notebooks/ as their working directory, so a relative path must not reach them)."""
    import nbformat

    from mia_repro.tools.reproduce import NOTEBOOKS, execute_notebooks

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'smoke'\ndata_path = seed = results_dir = None"),
                nbformat.v4.new_code_cell("import pathlib\npathlib.Path(results_dir, 'marker').write_text(results_dir)")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, tmp_path / "nbs" / NOTEBOOKS[0])
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    done = execute_notebooks("smoke", "rel", notebook_dir=tmp_path / "nbs", only=("01",), log=lambda *a, **k: None)
    out = tmp_path / "work" / "rel"
    assert done == [out / NOTEBOOKS[0]] and (out / "marker").read_text() == str(out)


def test_sigterm_to_reproduce_is_handled_like_ctrl_c():
    """SIGTERM during a notebook: the interrupted line and exit 130, as for Ctrl-C (not a silent 143)."""
    import signal
    import subprocess
    import sys

    code = ("import sys, time, mia_repro.tools.reproduce as r\n"
            "def slow(*a, **k):\n    print('ready', flush=True); time.sleep(60)\n"
            "r.execute_notebooks = slow\nraise SystemExit(r.main(['--profile', 'quick']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().startswith("interrupted during")


def test_a_full_disk_leaves_no_truncated_figure_and_reproduce_says_one_line(tmp_path, monkeypatch, capsys):
    import errno

    import matplotlib.pyplot as plt

    from mia_repro.tools import reproduce
    from mia_repro.reporting.plots import save_figure

    fig = plt.figure()

    def full(path, **kw):
        with open(path, "wb") as fh:
            fh.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fig, "savefig", full)
    (tmp_path / "fig.png").write_bytes(b"the earlier complete figure")
    with pytest.raises(OSError):
        save_figure(fig, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").read_bytes() == b"the earlier complete figure" and len(list(tmp_path.iterdir())) == 1
    plt.close(fig)

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reproduce, "execute_notebooks", no_space)
    assert reproduce.main(["--profile", "smoke", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no space left on the device holding")


def test_a_notebook_cut_short_mid_write_leaves_no_failed_copy(tmp_path):
    from mia_repro.tools.reproduce import _readable_notebook

    (tmp_path / "a.ipynb").write_text('{"cells": [], "metadata"')
    (tmp_path / "b.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    assert not _readable_notebook(tmp_path / "a.ipynb") and _readable_notebook(tmp_path / "b.ipynb")
