"""One run per results folder (mia_repro.experiment.lock) and no write through a link or onto a folder
(mia_repro.base.cache.check_writable): the probe's cases, each also on correct input."""
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from mia_repro.base.cache import WriteRefusedError, check_writable, confined, save_json, save_npz
from mia_repro.experiment import lock
from mia_repro.experiment.stages import stage2 as stage2_mod
from fakes import fake_size


HOLDER = """
import sys, time
from mia_repro.experiment.lock import holding
with holding(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path/results``'s lock, as a second run would meet it."""
    folder = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield folder, proc
    proc.kill()
    proc.wait()


def test_a_second_run_on_a_held_folder_is_refused_naming_the_holder(holder):
    folder, proc = holder
    with pytest.raises(lock.ResultsInUseError, match=rf"in use by another run \(pid {proc.pid}, .*wait for it"):
        with lock.holding(folder):
            pytest.fail("entered a folder another run holds")
    assert json.loads(lock.lock_path(folder).read_text())["pid"] == proc.pid  # the holder's lock untouched


def test_the_cli_refuses_a_held_results_folder_in_one_line_before_any_work(holder, tiny_config):
    folder, proc = holder
    env = {**os.environ, "MIA_REPRO_DATA": str(tiny_config.data_path)}
    run = subprocess.run([sys.executable, "-m", "mia_repro", "stage1", "--profile", "smoke", "--results-dir",
                          str(folder), "--data", str(tiny_config.data_path)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {proc.pid}" in lines[0] and lines[0].startswith("error: "), run.stderr
    assert sorted(p.name for p in folder.iterdir()) == [lock.LOCK_NAME]  # nothing trained, nothing written


def test_a_stale_lock_is_taken_over_and_said(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.lock_path(folder).write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(),
                                                  "command": "python -m mia_repro stage1", "since": "then"}))
    lines = []
    with lock.holding(folder, log=lines.append):
        assert json.loads(lock.lock_path(folder).read_text())["pid"] == os.getpid()
    assert any(f"pid {gone.pid}" in line and "has ended" in line for line in lines), lines
    assert not lock.lock_path(folder).exists()  # released


def test_another_hosts_lock_is_not_taken_over(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    lock.lock_path(folder).write_text(json.dumps({"pid": 1, "host": "elsewhere", "command": "x", "since": "then"}))
    with pytest.raises(lock.ResultsInUseError, match=f"on host elsewhere.*delete {lock.lock_path(folder)}"):
        with lock.holding(folder):
            pass


def test_nested_stages_of_one_process_hold_the_folder_once(tmp_path):
    folder = tmp_path / "results"
    with lock.holding(folder):
        with lock.holding(folder):  # `all`: the CLI and each stage
            assert lock.lock_path(folder).exists()
        assert lock.lock_path(folder).exists()  # still the outer hold's
    assert not lock.lock_path(folder).exists()
    with lock.holding(folder):  # and again, later in the same process
        pass


def test_a_write_through_a_link_inside_a_results_folder_is_refused(tmp_path):
    root, outside = tmp_path / "results", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "attack_scores").symlink_to(outside, target_is_directory=True)
    with confined(root):
        with pytest.raises(WriteRefusedError, match="attack_scores is a symbolic link .*replace the link by a folder"):
            save_npz(root / "attack_scores" / "lira_2500.npz", x=np.arange(3))
        save_json(root / "summary.json", {"ok": 1})  # beside the link: written
    assert list(outside.iterdir()) == []
    save_npz(root / "attack_scores" / "mine.npz", x=np.arange(3))  # outside a run: the user's own link is theirs
    assert [p.name for p in outside.iterdir()] == ["mine.npz"]


def test_a_linked_results_folder_itself_is_fine(tmp_path):
    real = tmp_path / "big_disk"
    real.mkdir()
    (tmp_path / "results").symlink_to(real, target_is_directory=True)
    with confined(tmp_path / "results"):
        save_json(tmp_path / "results" / "stage2" / "x.json", [1])
    assert (real / "stage2" / "x.json").exists()


def test_a_folder_where_a_file_goes_is_one_clear_error(tmp_path):
    (tmp_path / "n2500.svms.npz").mkdir()
    with pytest.raises(WriteRefusedError, match="is a folder where a file is written: move it away"):
        check_writable(tmp_path / "n2500.svms.npz")
    check_writable(tmp_path / "fine.npz")


@pytest.fixture
def stage2_cfg(tiny_config, monkeypatch):
    fakes = {n: fake_size(n, n_shadows=2, seed=n, leak=2.5) for n in (150,)}
    cfg = tiny_config.__class__(**{**tiny_config.__dict__, "sizes": (150,), "max_records": None})
    monkeypatch.setattr(stage2_mod, "load_stage1", lambda c: fakes)
    return cfg


def test_stage2_writes_nothing_through_a_linked_subfolder(stage2_cfg, tmp_path):
    """The probe: a stage's folder replaced by a link to a folder outside the results: the stage stops with
    one clear error, and nothing lands outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    stage2_cfg.output_dir.mkdir(parents=True, exist_ok=True)
    (stage2_cfg.output_dir / "stage2").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WriteRefusedError, match="stage2 is a symbolic link"):
        stage2_mod.run_stage2(stage2_cfg, log=lambda *_: None)
    assert list(outside.iterdir()) == []
    assert not lock.lock_path(stage2_cfg.output_dir).exists()  # released on the error


def test_a_folder_in_place_of_the_fitted_svms_is_one_clear_error_naming_it(stage2_cfg):
    stage2_mod.run_stage2(stage2_cfg, log=lambda *_: None)
    so = stage2_mod.load_stage1(stage2_cfg)[150]
    path = stage2_mod._svms(stage2_cfg, so)["svms"].path
    path.unlink()
    path.mkdir()
    with pytest.raises(WriteRefusedError, match=f"{path} is a folder where a file is written"):
        stage2_mod.load_attack(stage2_cfg, so, log=lambda *_: None)
