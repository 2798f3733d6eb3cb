"""Caches are trusted by their content, not their name (mia_repro.base.cache): damage a file, rerun, compare."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from mia_repro.base.cache import CacheEntryError, load_json, load_npz, save_json, save_npz, seal, sidecar
from mia_repro.experiment.stages.compare import run_compare
from mia_repro.experiment.stages.mitigation import run_mitigation, settings
from mia_repro.reporting.spread import load_seeds, spread_for
from mia_repro.experiment.stages.stage2 import run_stage2


# --- the mechanism -------------------------------------------------------------------------------------------

def test_an_entry_loads_only_with_its_key_and_its_content(tmp_path):
    p = tmp_path / "e.json"
    save_json(p, {"auc": 0.6}, key="k1")
    assert load_json(p, key="k1") == {"auc": 0.6}
    assert json.loads(sidecar(p).read_text())["key"] == "k1"
    with pytest.raises(CacheEntryError, match=r"e\.json: written for another key \(k1, expected k2\)"):
        load_json(p, key="k2")
    p.write_text(p.read_text().replace("0.6", "0.99"))  # edited, name and format unchanged
    with pytest.raises(CacheEntryError, match=r"e\.json: content changed since it was written"):
        load_json(p, key="k1")
    sidecar(p).unlink()
    with pytest.raises(CacheEntryError, match=r"e\.json: no digest beside it"):
        load_json(p, key="k1")
    sidecar(p).write_text("{not json")
    with pytest.raises(CacheEntryError, match=r"e\.json: its digest file is damaged"):
        load_json(p, key="k1")
    seal(p, "k1")  # a file checked by its reader, then sealed: from now on verified
    assert load_json(p, key="k1") == {"auc": 0.99}


def test_the_readers_check_runs_on_verified_content_and_names_the_path(tmp_path):
    p = tmp_path / "s.npz"
    save_npz(p, key="k", score=np.arange(10.0))

    def twenty_rows(arrays):
        if len(arrays["score"]) != 20:
            raise ValueError(f"{len(arrays['score'])} rows, expected 20")

    with pytest.raises(CacheEntryError, match=r"s\.npz: not what this stage expects \(ValueError: 10 rows, expected 20\)"):
        load_npz(p, key="k", check=twenty_rows)
    np.testing.assert_array_equal(load_npz(p, key="k")["score"], np.arange(10.0))
    p.write_bytes(p.read_bytes()[:-20])  # truncated
    with pytest.raises(CacheEntryError, match="content changed"):
        load_npz(p, key="k")


class _RunsCodeWhenUnpickled:
    """An object whose unpickling writes a file: what a pickle from a repository could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path(self.marker).write_text, ("unpickled",))


def test_a_cache_file_holding_a_pickle_is_refused_without_running_it(tmp_path):
    """The caches hold numbers and text only: an .npz with a pickled object, even with the right digest, is a
    CacheEntryError naming the file, and the object's code never runs; a store part of any other kind is refused."""
    from mia_repro.experiment.store import Part

    marker = tmp_path / "ran"
    p = tmp_path / "entry.npz"
    np.savez(p, ok=np.arange(3), evil=np.array([_RunsCodeWhenUnpickled(marker)], dtype=object))
    seal(p, "k")  # its digest is right: only its content is wrong
    with pytest.raises(CacheEntryError, match="entry.npz: unreadable"):
        load_npz(p, key="k")
    with pytest.raises(CacheEntryError, match="entry.npz: unreadable"):
        Part(p, "k", "npz").load()
    assert not marker.exists()
    with pytest.raises(ValueError, match="kind 'pickle': expected one of"):
        Part(tmp_path / "entry.pkl", "k", "pickle")


# --- every stage, on the tiny config ----------------------------------------------------------------------------

def quiet(*_):
    pass


@pytest.fixture(scope="module")
def complete(tiny_run, tmp_path_factory):
    """Stage I, II, the comparison and the mitigation sweep (the session's tiny run, copied; read only)."""
    import conftest

    return conftest.copy_of_tiny_run(tiny_run, tmp_path_factory.mktemp("cache"))


@pytest.fixture
def run(trained_config):
    """A private copy of the complete run, to damage."""
    return trained_config


def published_aucs_recompute(cfg) -> None:
    """Every AUC in attacks.json equals the one its published score file gives."""
    result = json.loads((cfg.output_dir / "attacks.json").read_text())
    for n, blocks in result["sizes"].items():
        for name, b in blocks.items():
            with np.load(cfg.output_dir / "attack_scores" / f"{name}_{n}.npz") as s:
                assert len(s["member"]) == 2 * int(n)
                assert b["auc"] == pytest.approx(skm.roc_auc_score(s["member"], s["score"])), (n, name)


def entry(folder, pattern):
    """The one cache file matching ``pattern`` in ``folder`` (not its digest sidecar)."""
    (found,) = [p for p in folder.glob(pattern) if not p.name.endswith(".digest.json")]
    return found


def compare_entry(cfg, size):
    marker = entry(cfg.output_dir / "compare", f"n{size}-*.json")
    return marker, marker.with_suffix("")


def test_an_edited_compare_result_is_recomputed_never_published(run, complete):
    marker, _ = compare_entry(run, 30)
    blocks = json.loads(marker.read_text())
    blocks["rmia_offline"]["auc"] = 0.99
    marker.write_text(json.dumps(blocks))
    lines = []
    result = run_compare(run, log=lines.append)
    assert any(f"{marker}: content changed" in line and "recomputing" in line for line in lines)
    assert result["sizes"]["30"]["rmia_offline"]["auc"] == json.loads(
        (complete.output_dir / "attacks.json").read_text())["sizes"]["30"]["rmia_offline"]["auc"] != 0.99
    published_aucs_recompute(run)


@pytest.mark.parametrize("with_sidecar", [False, True])
def test_a_score_file_copied_over_another_attacks_is_recomputed(run, with_sidecar):
    _, store = compare_entry(run, 30)
    shutil.copy(store / "rmia_offline.npz", store / "lira_offline.npz")
    if with_sidecar:  # copied with its digest: the digest names rmia's key
        shutil.copy(sidecar(store / "rmia_offline.npz"), sidecar(store / "lira_offline.npz"))
    lines = []
    run_compare(run, log=lines.append)
    reason = "written for another key" if with_sidecar else "content changed"
    assert any(f"lira_offline.npz: {reason}" in line for line in lines)
    published_aucs_recompute(run)


def test_another_sizes_entry_under_this_ones_name_and_a_cut_score_file(run):
    m30, s30 = compare_entry(run, 30)
    m40, s40 = compare_entry(run, 40)
    shutil.copy(m30, m40)
    shutil.copy(sidecar(m30), sidecar(m40))
    d = dict(np.load(s30 / "loss_threshold.npz"))
    np.savez(s30 / "loss_threshold.npz", **{k: v[:10] for k, v in d.items()})  # cut to 10 rows
    lines = []
    run_compare(run, log=lines.append)
    assert any(f"{m40}: written for another key" in line for line in lines)
    assert any("loss_threshold.npz: content changed" in line for line in lines)
    published_aucs_recompute(run)


def test_damaged_stage2_entries_are_refit_reported_and_rewritten(run, complete):
    scores = entry(run.output_dir / "stage2", "n30-????????????.npz")
    pkl = entry(run.output_dir / "stage2", "n30-*.svms.npz")  # keyed by what the fit depends on, not the scoring
    scores.write_bytes(scores.read_bytes()[:100])
    pkl.write_bytes(pkl.read_bytes()[:50])  # truncated attack models
    lines = []
    summary = run_stage2(run, log=lines.append)
    assert any(f"{scores}: content changed" in line and "refitting" in line for line in lines)
    good = json.loads((complete.output_dir / "summary.json").read_text())["sizes"]["30"]["attack"]["auc"]
    assert summary["sizes"]["30"]["attack"]["auc"] == good
    assert load_npz(pkl, key=json.loads(sidecar(pkl).read_text())["key"]) is not None  # rewritten, verified
    with np.load(run.output_dir / "attack_scores_30.npz") as s:
        assert len(s["score"]) == 60
    pkl.write_bytes(pkl.read_bytes()[:50])
    lines = []
    run_mitigation(run, log=lines.append)  # every setting cached: the unaware attacker's SVMs are not even read
    assert not any(str(pkl) in line for line in lines)
    for marker in (run.output_dir / "mitigation").glob("n30-none-*.json"):  # one setting to compute again
        marker.unlink()
    lines = []
    run_mitigation(run, log=lines.append)  # loads the SVMs for it: reports, refits, rewrites
    assert any(f"{pkl}: content changed" in line and "refitting" in line for line in lines)
    assert load_npz(pkl, key=json.loads(sidecar(pkl).read_text())["key"]) is not None


def test_damaged_or_swapped_mitigation_settings_never_lose_or_duplicate_rows(run, complete):
    folder = run.output_dir / "mitigation"
    topk = entry(folder, "n30-topk-1-*.json")
    rounding = entry(folder, "n30-rounding-1-*.json")
    l2 = entry(folder, "n30-l2-0.001-*.json")
    shutil.copy(rounding, topk)
    shutil.copy(sidecar(rounding), sidecar(topk))
    l2.write_text("[]")
    lines = []
    rows = run_mitigation(run, log=lines.append)
    assert any(f"{topk}: written for another key" in line for line in lines)
    assert any(f"{l2}: content changed" in line for line in lines)
    assert rows == json.loads((complete.output_dir / "mitigation.json").read_text())
    seen = [(r["defense"], r["strength"], r["scenario"]) for r in rows]
    assert len(seen) == len(set(seen)) == 2 * len(settings(run))


def test_a_seeds_file_of_the_wrong_shape_is_left_out(run):
    (run.output_dir / "seeds").mkdir()
    for wrong in ({"profile": "test", "epochs": 1, "sizes": [1, 2]}, [1, 2], {"profile": "test", "epochs": 1}):
        (run.output_dir / "seeds" / "seeds.json").write_text(json.dumps(wrong))
        assert spread_for(run, "attacks") is None and spread_for(run, "summary") is None
        assert load_seeds(run) is None  # what notebook 04 shows: "no usable seeds.json", not a traceback


def test_only_damage_becomes_a_cache_error_a_bug_is_raised(tmp_path, monkeypatch):
    """A damaged file is a CacheEntryError (the caller recomputes); an unexpected error while reading is a
    bug and is raised as itself, never turned into "recompute"."""
    import numpy as np

    from mia_repro.base import cache

    cache.save_npz(tmp_path / "a.npz", key="k", x=np.arange(3))

    def bug(*a, **k):
        raise RuntimeError("a programming error")

    monkeypatch.setattr(np, "load", bug)
    with pytest.raises(RuntimeError, match="a programming error"):
        cache.load_npz(tmp_path / "a.npz", key="k")
    monkeypatch.undo()
    (tmp_path / "b.npz").write_bytes((tmp_path / "a.npz").read_bytes()[:40])
    with pytest.raises(cache.CacheEntryError, match="b.npz: unreadable"):
        cache.load_npz(tmp_path / "b.npz")
