"""The reports the pipeline writes: each committed ``results/<profile>/REPORT.md`` and ``results/README.md`` is
exactly what :mod:`mia_repro.reporting.report` writes from the committed JSON; committed notebooks and JSON
name no folder of any machine and hold no frozen progress bar."""
import json
import re
import subprocess

import pytest

from mia_repro.base.paths import PROJECT_ROOT
from mia_repro.reporting import report

RESULTS = PROJECT_ROOT / "results"
#: an absolute path of a machine: a slash-rooted folder of two or more parts, not inside a URL
ABSOLUTE = re.compile(r"(?<![\w:/.~-])/(?:home|root|work|tmp|Users|mnt|opt|usr|var|srv|scratch|private|data)/[\w.-]+")


@pytest.mark.parametrize("profile", report.INDEXED)
def test_each_committed_report_is_what_the_generator_writes_from_the_committed_json(profile):
    folder = RESULTS / profile
    if not (folder / "summary.json").exists():
        pytest.skip(f"no committed results/{profile}/")
    assert (folder / report.REPORT).read_text() == report.profile_report(folder), \
        f"results/{profile}/REPORT.md is stale: rerun a stage (or python -c 'from mia_repro.reporting.report import " \
        f"write_reports; write_reports(\"results/{profile}\", \"results\")')"


def test_the_results_index_is_what_the_generator_writes():
    assert (RESULTS / report.INDEX).read_text() == report.results_index(RESULTS)


def test_a_report_embeds_only_figures_that_exist_and_phrases_its_numbers_from_the_json():
    folder = RESULTS / "quick"
    text = (folder / report.REPORT).read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images and all((folder / p).exists() and not p.startswith("/") for p in images)
    summary = json.loads((folder / "summary.json").read_text())
    first, last = summary["sizes"]["2500"]["attack"], summary["sizes"]["15000"]["attack"]
    assert f"({first['precision']:.3f} → {last['precision']:.3f})" in text
    assert "wall" not in text.lower()  # no wall time: a rerun from the caches leaves the report as it is


def _committed(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=PROJECT_ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return out.stdout.split()


def test_no_committed_notebook_or_json_names_a_machines_folder():
    hits = []
    for name in _committed("*.ipynb", "*.json"):
        for m in ABSOLUTE.finditer((PROJECT_ROOT / name).read_text(errors="replace")):
            hits.append(f"{name}: {m.group(0)}")
    assert hits == []


def test_no_committed_notebook_holds_a_progress_bar_widget():
    for name in _committed("*.ipynb"):
        nb = json.loads((PROJECT_ROOT / name).read_text())
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {}), name
                assert "0%|" not in "".join(out.get("text", "")), name


def test_make_portable_rewrites_papermill_paths_and_printed_project_paths(tmp_path):
    from pathlib import Path

    from mia_repro.tools.reproduce import make_portable

    nb = {"cells": [{"cell_type": "code", "id": "a1b2c3d4", "source": [], "metadata": {"tags": ["injected-parameters"]},
                     "outputs": [
        {"output_type": "stream", "name": "stdout", "text": [f"results go to {PROJECT_ROOT}/results/quick\n",
                                                              f"cache in {Path.home()}/.cache/x\n"]}]}],
          "metadata": {"papermill": {"input_path": str(PROJECT_ROOT / "notebooks" / "01.ipynb"),
                                     "output_path": str(PROJECT_ROOT / "results" / "quick" / ".01.running.ipynb")}}}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    make_portable(path, PROJECT_ROOT / "notebooks" / "01.ipynb", PROJECT_ROOT / "results" / "quick" / "01.ipynb")
    doc = json.loads(path.read_text())
    assert doc["metadata"]["papermill"] == {"input_path": "notebooks/01.ipynb", "output_path": "results/quick/01.ipynb"}
    assert doc["cells"][0]["outputs"][0]["text"] == ["results go to results/quick\n", "cache in ~/.cache/x\n"]
    assert doc["cells"][0]["id"] == "injected-parameters"  # papermill's random id: a rerun would differ


def test_precision_of_an_attack_that_called_no_record_a_member_is_not_zero():
    from mia_repro.reporting.mitigation_tables import precision_text

    assert precision_text({"precision": 0.0, "recall": 0.0, "advantage_at_decision": 0.0}) == "none called"
    assert precision_text({"precision": 0.0, "recall": 0.0, "advantage_at_decision": -0.2}) == "0.000"  # all wrong
    assert precision_text({"precision": 0.5034, "recall": 0.3, "advantage_at_decision": 0.01}) == "0.503"
    assert precision_text(None) == "—"
