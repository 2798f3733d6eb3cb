import subprocess
import sys

from mia_repro.cli import main


def test_unknown_profile_is_one_clear_line(capsys):
    assert main(["stage1", "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'nope'" in err and "smoke, quick, paper" in err


def test_stage2_before_stage1_is_one_clear_line(tmp_path, capsys):
    assert main(["stage2", "--profile", "smoke", "--results-dir", str(tmp_path)]) == 2
    assert "Run `python -m mia_repro stage1 --profile smoke` first" in capsys.readouterr().err


def test_missing_dataset_is_one_clear_line(tmp_path, monkeypatch):
    from mia_repro import data

    monkeypatch.setattr(data, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(data, "_keras_download", lambda: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.delenv("MIA_REPRO_DATA", raising=False)
    code = main(["stage1", "--profile", "smoke", "--data", str(tmp_path / "x"), "--results-dir", str(tmp_path / "r")])
    assert code == 2


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "mia_repro", "--help"], capture_output=True, text=True, check=True)
    assert "stage1" in out.stdout and "--profile" in out.stdout
