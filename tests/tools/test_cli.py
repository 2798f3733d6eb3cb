import os
import subprocess
import sys

import pytest

from mia_repro.tools.cli import main
from mia_repro.base.paths import PROJECT_ROOT
from mia_repro.experiment.profiles import get_config


def test_unknown_profile_is_one_clear_line(capsys):
    assert main(["stage1", "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'nope'" in err and "smoke, quick, paper" in err


def test_stage2_before_stage1_is_one_clear_line(tmp_path, capsys):
    assert main(["stage2", "--profile", "smoke", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"Run `python -m mia_repro stage1 --profile smoke --results-dir {tmp_path}` first" in err


def test_missing_dataset_is_one_clear_line(tmp_path, monkeypatch):
    from mia_repro.data import cifar10 as data

    monkeypatch.setattr(data, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(data, "_keras_download", lambda: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.delenv("MIA_REPRO_DATA", raising=False)
    code = main(["stage1", "--profile", "smoke", "--data", str(tmp_path / "x"), "--results-dir", str(tmp_path / "r")])
    assert code == 2


def test_a_missing_data_folder_is_refused_even_when_everything_is_cached(tmp_path, capsys):
    """`compare --data /nonexistent` on a profile whose results are all cached: still one line, exit 2 (the
    folder is checked before anything is read from the caches)."""
    code = main(["compare", "--profile", "quick", "--data", str(tmp_path / "nonexistent")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --data {tmp_path / 'nonexistent'}: no such folder")


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "mia_repro", "--help"], capture_output=True, text=True, check=True)
    assert "stage1" in out.stdout and "--profile" in out.stdout


class _Ran:
    """What a CLI run left: its exit status and its stderr."""

    def __init__(self, returncode: int, stderr: str):
        self.returncode, self.stderr = returncode, stderr


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args, cwd=None)``: ``python -m mia_repro *args`` run in this process (``main``, what the entry
    point calls), its exit status and stderr; one subprocess run below checks the entry point itself."""

    def run(*args, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        return _Ran(code, capsys.readouterr().err)

    return run


def test_the_entry_point_exits_2_with_the_one_line_main_prints(tmp_path):
    """The module entry point is ``main``: a bad value is the same one line and exit status 2 in a process."""
    out = subprocess.run([sys.executable, "-m", "mia_repro", "stage1", "--profile", "smoke", "--results-dir",
                          str(tmp_path / "r"), "--sizes", "0"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("error: sizes") and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr and not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, field", [
    (["--sizes", "0"], "sizes"), (["--sizes", "-5"], "sizes"), (["--sizes", "30000"], "sizes"),
    (["--seed", "-1"], "seed"), (["--epochs", "0"], "model.epochs"), (["--epochs", "-3"], "model.epochs"),
    (["--seeds", "1"], "--seeds"), (["--steps-per-execution", "0"], "steps_per_execution"),
    (["--seeds", "0", "-1"], "--seeds: seed"), (["--seeds", "0", "1180591620717411303424"], "--seeds: seed"),
    (["--seed", "1", "--seeds", "0", "1"], "--seed: give --seed or --seeds"), (["--seed", str(2**32)], "seed"),
    (["--workers", "0"], "workers"), (["--scheduler", "nowhere"], "scheduler"),
    (["--threads-per-model", "0"], "threads_per_model"), (["--data", ""], "data_path"),
    (["--attacks", "no_such_attack"], "attacks"), (["--attacks", "lira_offline", "lira_offline"], "attacks"),
])
def test_bad_values_are_one_line_exit_2(args, field, tmp_path, cli):
    out = cli("stage1", "--profile", "smoke", "--results-dir", str(tmp_path / "r"), *args)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and out.stderr.startswith(f"error: {field}")
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "stage1").exists()  # nothing trained, nothing written


def test_results_dir_that_is_a_file_is_rejected_before_training(tmp_path, cli):
    f = tmp_path / "file"
    f.write_text("x")
    out = cli("stage1", "--profile", "smoke", "--results-dir", str(f / "sub"))
    assert out.returncode == 2 and "is a file, not a folder" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders: the check cannot fail as root")
def test_read_only_results_dir_is_rejected_before_training(tmp_path, cli):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    out = cli("stage1", "--profile", "smoke", "--results-dir", str(ro / "r"))
    assert out.returncode == 2 and "not writable" in out.stderr


def test_ctrl_c_is_one_line_saying_how_to_resume(monkeypatch, capsys):
    from mia_repro.tools import cli as cli_mod

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_mod, "run", interrupted)
    assert cli_mod.main(["stage1", "--profile", "smoke"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rerun the same command to resume" in err


def test_data_stage_fails_when_the_dataset_is_nowhere(tmp_path, monkeypatch):
    from mia_repro.data import cifar10 as data

    monkeypatch.setattr(data, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(data, "SHARED_SHARDS", tmp_path / "no-shards")
    monkeypatch.setattr(data, "_keras_download", lambda: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.delenv("MIA_REPRO_DATA", raising=False)
    with pytest.raises(data.DatasetNotFoundError, match="offline"):
        data.ensure_dataset(tmp_path / "data", shards=tmp_path / "no-shards")


@pytest.mark.parametrize("args, field", [
    (["all", "--profile", "smoke", "--sizes", "400"], "mitigation.sizes: none of the profile's mitigation sizes"),
    (["mitigation", "--profile", "smoke", "--sizes", "400"], "mitigation.sizes"),
])
def test_the_whole_plan_is_checked_before_anything_runs(args, field, tmp_path, cli):
    out = cli(*args, "--results-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and out.stderr.startswith(f"error: {field}") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing trained, no folder made


def test_an_empty_results_dir_is_an_error_not_the_current_folder(tmp_path, cli):
    out = cli("stage1", "--profile", "smoke", "--results-dir", "", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: results_dir: expected a non-empty path")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.training
@pytest.mark.integration
def test_a_full_disk_is_one_line_naming_the_folder_and_what_to_free(tmp_path, monkeypatch, capsys, real_data):
    import errno

    from mia_repro.base import cache

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cache, "atomic_write", full)
    code = main(["stage1", "--profile", "smoke", "--sizes", "200", "--epochs", "1", "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the progress bar's lines
    assert code == 2 and "Traceback" not in err and sum(line.startswith("error:") for line in err.splitlines()) == 1
    assert last.startswith(f"error: no space left on the device holding {tmp_path / 'r'} (") and "MiB free" in last


@pytest.mark.parametrize("args", [["--workers", "0"], ["--workers", "1", "--threads-per-model", "0"]])
def test_bench_rejects_bad_worker_settings_before_training(args, capsys):
    from mia_repro.tools.bench import main as bench_main

    with pytest.raises(SystemExit) as exit_info:
        bench_main(args)
    assert exit_info.value.code == 2
    assert "--workers / --threads-per-model: every value must be >= 1" in capsys.readouterr().err


def test_the_sweep_and_the_config_file_choose_the_experiment(tmp_path, capsys):
    """`--l2 1e-3 1e-2` is an L2-only sweep in a folder named for it; a TOML file sets the same; the flags win
    over the file; an unknown key in the file is one line and exit 2."""
    from mia_repro.experiment.stages.mitigation import settings
    from mia_repro.experiment.overrides import with_config_file, with_sweep

    cfg = with_sweep(get_config("quick"), l2=[1e-3, 1e-2])
    assert settings(cfg) == [("none", 0.0), ("l2", 1e-3), ("l2", 1e-2)]
    assert cfg.output_dir.name.startswith("quick-l2_strengths-")
    toml = tmp_path / "exp.toml"
    toml.write_text("n_shadows = 4\n[mitigation]\nl2_strengths = [0.0, 0.001, 0.01]\ndropout_rates = [0.0]\n"
                    "topk = []\nrounding_decimals = []\ntemperatures = []\ndp_epsilons = []\naware_shadows = 2\n")
    from_file = with_config_file(get_config("quick"), toml)
    assert settings(from_file) == settings(cfg) and from_file.n_shadows == 4
    (tmp_path / "bad.toml").write_text("[mitigation]\nl2 = [0.001]\n")
    code = main(["mitigation", "--profile", "quick", "--config", str(tmp_path / "bad.toml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "mitigation.l2: not a setting (choose from" in err[0]
    (tmp_path / "broken.toml").write_text("[mitigation\n")
    assert main(["mitigation", "--profile", "quick", "--config", str(tmp_path / "broken.toml")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["mitigation", "--profile", "quick", "--l2", "-1"]) == 2
    assert "mitigation.l2_strengths" in capsys.readouterr().err


def test_a_smoke_run_says_its_numbers_are_noise(capsys, tmp_path, monkeypatch):
    from mia_repro.tools.cli import profile_note
    from mia_repro.experiment.stages import canary_audit
    from mia_repro.reporting import figures

    assert "its numbers are noise" in profile_note("smoke") and profile_note("quick") is None
    monkeypatch.setattr(canary_audit, "run_audit", lambda *a, **k: [])  # the stage itself is tested elsewhere
    monkeypatch.setattr(figures, "audit", lambda *a, **k: None)
    assert main(["audit", "--profile", "smoke", "--results-dir", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == profile_note("smoke")


def _tmpfs_runner(mount_point):
    """A command prefix that runs its command with a 3 MiB tmpfs on ``mount_point`` (a private mount namespace,
    as root or in a user namespace), or None where this machine allows neither."""
    import shutil

    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        if shutil.which("unshare") is None:
            return None
        probe = subprocess.run([*prefix, "sh", "-c", f"mount -t tmpfs -o size=3m tmpfs {mount_point}"],
                               capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


@pytest.mark.training
@pytest.mark.integration
def test_reproduce_on_a_real_full_disk_is_one_line_exit_2_and_leaves_no_incomplete_file(tmp_path, real_data):
    """The probe's case on a real 3 MiB tmpfs (not a patched write): `reproduce --profile smoke` fills it while
    Stage I writes its models; one line naming the folder, exit 2, and every file left under a final name whole
    (each notebook valid JSON, each PNG ending in its IEND chunk, each npz readable)."""
    import io
    import json as _json
    import shlex
    import zipfile

    mount = tmp_path / "disk"
    mount.mkdir()
    prefix = _tmpfs_runner(mount)
    if prefix is None:
        pytest.skip("no tmpfs: this machine allows no private mount namespace (unshare -m / -rm)")
    out, copy = mount / "out", tmp_path / "left"
    script = (f"mount -t tmpfs -o size=3m tmpfs {shlex.quote(str(mount))} && "
              f"{shlex.quote(sys.executable)} -m mia_repro.tools.reproduce --profile smoke --out {shlex.quote(str(out))} "
              f"--data {shlex.quote(str(real_data))}; code=$?; cp -a {shlex.quote(str(out))} {shlex.quote(str(copy))}; "
              "exit $code")  # the tmpfs ends with its namespace: what it held is copied out first
    run = subprocess.run([*prefix, "sh", "-c", script], capture_output=True, text=True, timeout=900,
                         cwd=PROJECT_ROOT)
    err = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and len([e for e in err if e.startswith("error:")]) == 1
    assert err[-1].startswith(f"error: no space left on the device holding {out}") and "MiB free" in err[-1]
    files = {str(p.relative_to(copy)): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert files, "the run wrote nothing before the disk filled"
    for name, data in files.items():
        if name.split("/")[-1].startswith("."):  # temporary files and hidden logs: never read as results
            continue
        if name.endswith(".ipynb"):
            assert "cells" in _json.loads(data), name
        elif name.endswith(".png"):
            assert data.endswith(b"IEND\xaeB`\x82"), name
        elif name.endswith(".npz"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                assert z.testzip() is None, name
        elif name.endswith(".json"):
            _json.loads(data)


@pytest.mark.parametrize("flags, says", [
    (["--rounding", "-1"], "--rounding (mitigation.rounding_decimals): expected integers from 0 to 8"),
    (["--rounding", "400"], "--rounding (mitigation.rounding_decimals): expected integers from 0 to 8"),
    (["--l2", "inf"], "--l2 (mitigation.l2_strengths): every strength must be at most 1"),
    (["--l2", "1e300"], "--l2 (mitigation.l2_strengths): every strength must be at most 1"),
    (["--dp-epsilons", "1e300"], "--dp-epsilons (mitigation.dp_epsilons): expected a tuple of positive numbers up to"),
    (["--temperatures", "inf"], "--temperatures (mitigation.temperatures): every temperature must be finite"),
    (["--l2", "0.01", "0.01"], "--l2 (mitigation.l2_strengths): each value once"),
    (["--topk", "1", "1"], "--topk (mitigation.topk): each value once"),
])
def test_every_sweep_value_is_checked_before_any_work(tmp_path, capsys, flags, says):
    """The probe's sweep values: each one line, exit 2, and nothing made (no results folder, no model)."""
    out = tmp_path / "r"
    assert main(["mitigation", "--profile", "quick", "--results-dir", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err
    assert not out.exists()


def test_good_sweep_values_pass_the_checks():
    from mia_repro.experiment.overrides import with_sweep

    cfg = with_sweep(get_config("quick"), rounding=[0, 8], l2=[1.0], temperatures=[1e6], dp_epsilons=[1000.0])
    assert cfg.mitigation.rounding_decimals == (0, 8) and cfg.mitigation.dp_epsilons == (1000.0,)


@pytest.mark.parametrize("text, says", [
    (b"\x00\xff\xfe\x00binary", "not a text file (TOML is UTF-8 text)"),
    (b'profile = "nope"\n', "profile 'nope': choose the profile with --profile"),
    (b'data_path = "/nonexistent/cifar"\n', "data_path: --data /nonexistent/cifar: no such folder"),
    (b'[mitigation]\nrounding_decimals = ["x"]\n', "mitigation.rounding_decimals: expected integers from 0 to 8"),
    (b'rounding = [-1]\n', "rounding (mitigation.rounding_decimals): expected integers from 0 to 8"),
    (b'l2 = 0.01\n', "l2: expected a list of values"),
    (b'nonsense = 1\n', "nonsense: not a setting of the experiment"),
])
def test_a_bad_config_file_is_one_line(tmp_path, capsys, text, says):
    path = tmp_path / "exp.toml"
    path.write_bytes(text)
    out = tmp_path / "r"
    assert main(["mitigation", "--profile", "quick", "--results-dir", str(out), "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --config {path}: ") and says in err[0], err
    assert not out.exists()


def test_the_files_names_are_the_flags_names_with_the_flags_meaning(tmp_path):
    """`epochs`, `shadows` and the sweep flags' names are accepted in the file and mean what the flags do; a
    [mitigation] sweep field means the same: the sweep is exactly the defenses given."""
    from mia_repro.experiment.overrides import with_config_file, with_sweep

    base = get_config("quick")
    flags = with_sweep(base, l2=[0.001])
    for text in ('epochs = 3\nshadows = 5\nl2 = [0.001]\n', 'epochs = 3\nshadows = 5\n[mitigation]\nl2_strengths = [0.001]\n'):
        path = tmp_path / "exp.toml"
        path.write_text(text)
        cfg = with_config_file(base, path)
        assert (cfg.model.epochs, cfg.n_shadows) == (3, 5)
        assert cfg.mitigation == flags.mitigation  # an L2-only sweep, as `--l2 0.001`
        assert cfg.mitigation.rounding_decimals == () and cfg.mitigation.l2_strengths == (0.001,)
