"""The executor (mia_repro.training.executor): results as they finish, faults named, same bits on any engine."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mia_repro.base.errors import ConfigError
from mia_repro.experiment.profiles import get_config
from mia_repro.training import Execution, TrainingFailed, run_units
from mia_repro.training.threads import ThreadsError, apply_threads

pytestmark = pytest.mark.training  # the executor's workers train tiny models


def _this_process() -> Execution:
    """One worker that is this process: with the thread count this process's backend can still compute with
    (another test file in the same pytest worker may have started TensorFlow with its default count; asking
    for 1 then falls back to a worker process, which is tested on its own below)."""
    try:
        apply_threads(1)
        return Execution(workers=1, threads_per_model=1)
    except ThreadsError as exc:
        return Execution(workers=1, threads_per_model=exc.current)


ENGINES = {
    "this process": None,  # made when a test runs (see _this_process)
    "loky": Execution(workers=2, threads_per_model=1),
    "dask local": Execution(workers=2, scheduler="local", threads_per_model=1),
}
PARALLEL = ["loky", "dask local"]


def square_or_fail(unit, marker_dir):
    """A task: ``unit ** 2``; unit 13 raises MemoryError; unit 7 kills its own worker process (SIGKILL)
    on its first ``unit 7 kills`` attempts (attempts counted in files, which survive the kill)."""
    if unit == 13:
        raise MemoryError("out of memory in the worker\nsecond line")
    if unit == 7:
        marker = Path(marker_dir) / "attempts"
        attempts = len(marker.read_text()) if marker.exists() else 0
        marker.write_text("x" * (attempts + 1))
        kills = int((Path(marker_dir) / "kills").read_text())
        if attempts < kills:
            time.sleep(0.5)  # let the other units start: they run beside it when it dies
            os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return unit * unit


def run(engine, units, marker_dir, kills=0):
    (Path(marker_dir) / "kills").write_text(str(kills))
    got, lines = {}, []
    error = None
    try:
        execution = ENGINES[engine] or _this_process()
        run_units(square_or_fail, units, (str(marker_dir),), execution, lambda u, r: got.__setitem__(u, r),
                  name=lambda u: f"unit {u}", log=lines.append)
    except TrainingFailed as exc:
        error = str(exc)
    return got, lines, error


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_result_reaches_the_parent(engine, tmp_path):
    got, lines, error = run(engine, [1, 2, 3, 4, 5], tmp_path)
    assert error is None and lines == []
    assert got == {1: 1, 2: 4, 3: 9, 4: 16, 5: 25}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_an_error_in_a_worker_is_one_line_naming_the_unit_and_the_others_finish(engine, tmp_path):
    got, lines, error = run(engine, [1, 13, 2, 3], tmp_path)
    assert got == {1: 1, 2: 4, 3: 9}
    assert lines == ["  unit 13: failed in its worker: MemoryError: out of memory in the worker"]
    assert error == ("1 of 4 not finished (the others are kept; rerun to retry): "
                     "unit 13: MemoryError: out of memory in the worker")


@pytest.mark.parametrize("engine", PARALLEL)
def test_a_killed_worker_is_retried_once_alone(engine, tmp_path):
    got, lines, error = run(engine, [1, 7, 2, 3], tmp_path, kills=1)
    assert error is None
    assert got == {1: 1, 7: 49, 2: 4, 3: 9}
    assert (tmp_path / "attempts").read_text() == "xx"  # first attempt killed, the retry finished
    if engine == "loky":  # loky cannot tell which unit died: those running are rerun alone, and it says so
        assert len(lines) == 1 and lines[0].startswith("  a worker died") and "unit 7" in lines[0]
    else:  # Dask's scheduler reruns exactly the unit it lost
        assert lines == []


@pytest.mark.parametrize("engine", PARALLEL)
def test_a_unit_whose_worker_dies_twice_is_reported_by_name_and_the_rest_are_kept(engine, tmp_path):
    got, lines, error = run(engine, [1, 7, 2, 3, 4], tmp_path, kills=5)
    assert got == {1: 1, 2: 4, 3: 9, 4: 16}
    assert (tmp_path / "attempts").read_text() == "xx"  # retried exactly once, then reported
    reason = {"loky": "its worker died twice, the second time running alone",
              "dask local": "its worker died on every attempt (KilledWorker"}[engine]
    assert error.startswith("1 of 5 not finished") and f"unit 7: {reason}" in error
    assert lines[-1].startswith(f"  unit 7: failed in its worker: {reason}")


def test_execution_defaults_and_descriptions():
    assert Execution(threads_per_model=1).local_workers() >= 1
    assert Execution(workers=3).local_workers() == 3
    assert Execution(workers=1).describe() == "1 worker(s) on this process, 2 thread(s) per model"
    assert Execution(workers=4).describe() == "4 worker(s) on local processes (joblib/loky), 2 thread(s) per model"
    assert "Dask cluster at tcp://h:8786" in Execution(scheduler="tcp://h:8786").describe()


@pytest.mark.parametrize("field, value", [
    ("workers", 0), ("workers", -1), ("workers", 2.5), ("workers", True), ("scheduler", ""), ("scheduler", "somewhere"),
    ("scheduler", "tcp://host"), ("threads_per_model", 0), ("threads_per_model", None), ("threads_per_model", "2"),
    ("worker_wait", 0), ("worker_wait", float("inf")),
])
def test_bad_execution_fields_are_config_errors_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        get_config("smoke", **{field: value}) if value is not None else get_config("smoke").__class__(
            **{**get_config("smoke").__dict__, field: value})


def test_execution_fields_change_no_cache_key(tmp_path):
    from mia_repro.data.splits import make_splits
    from mia_repro.experiment.trained import ModelStore
    from mia_repro.experiment.plan import size_jobs

    job = size_jobs(make_splits(2000, 200, 2, 0), 0)[0]
    paths = {ModelStore(get_config("smoke", **kw)).path(job, 200, get_config("smoke").model)
             for kw in ({}, {"workers": 3}, {"scheduler": "local"}, {"threads_per_model": 1})}
    assert len(paths) == 1


def _as_a_terminal_would():
    """A child as an interactive shell starts it: Ctrl-C (SIGINT) at its default.  A job started in the
    background by a non-interactive shell (``cmd &``, how CI may be launched) inherits SIGINT ignored, and
    Python then never raises KeyboardInterrupt: the run would finish with exit 0 whatever the test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "mia_repro", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})}, preexec_fn=_as_a_terminal_would)


def model_arrays(folder: Path) -> dict:
    """Every array of every per-model file under ``folder`` except timings and the machine record."""
    out = {}
    for f in sorted(folder.rglob("*.npz")):
        with np.load(f) as d:
            for k in d.files:
                if k not in ("seconds", "inference_seconds", "trained_on"):
                    out[(str(f.relative_to(folder)), k)] = (d[k].dtype.str, d[k].shape, d[k].tobytes())
    return out


@pytest.mark.integration
def test_same_bits_with_one_worker_two_workers_and_a_dask_cluster(tmp_path, real_data):
    runs = {"w1": ["--workers", "1"], "w2": ["--workers", "2"], "dask": ["--scheduler", "local", "--workers", "2"]}
    arrays = {}
    for name, extra in runs.items():
        p = cli("stage1", "--profile", "smoke", "--sizes", "200", "--epochs", "1", "--results-dir", str(tmp_path / name),
                *extra)
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        arrays[name] = model_arrays(tmp_path / name / "stage1")
    assert len(arrays["w1"]) > 3 * 10  # 3 models (a target, 2 shadows) and their weights, every array of each
    assert arrays["w2"] == arrays["w1"]
    assert arrays["dask"] == arrays["w1"]


def _processes_with(tag: str) -> list[int]:
    pids = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"MIA_TEST_TAG={tag}".encode() in env.read_bytes():
                pids.append(int(env.parent.name))
        except OSError:
            pass
    return pids


@pytest.mark.integration
@pytest.mark.serial  # timing-sensitive beside another test file's load
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the worker processes through /proc")
def test_ctrl_c_stops_the_workers_keeps_finished_models_and_the_same_command_resumes(tmp_path, real_data):
    args = ["stage1", "--profile", "smoke", "--epochs", "25", "--workers", "2", "--threads-per-model", "1",
            "--results-dir", str(tmp_path / "r")]
    tag = f"ctrlc-{os.getpid()}-{time.time()}"
    p = cli(*args, env={"MIA_TEST_TAG": tag})
    folder = tmp_path / "r" / "stage1"
    deadline = time.time() + 300
    while time.time() < deadline and not list(folder.glob("n*/*.npz")):
        time.sleep(0.2)
    assert p.poll() is None, "every model finished before Ctrl-C could be sent: make the models slower"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: every model and attack finished so far is cached")
    kept = {f.name: f.read_bytes() for f in folder.glob("n*/*.npz")}
    assert 1 <= len(kept) < 6
    time.sleep(2)
    assert _processes_with(tag) == []  # no worker left behind
    p = cli(*args)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    trained = sum(int(line.split("trained ")[1].split(",")[0]) for line in out.splitlines() if ": trained " in line)
    assert trained == 6 - len(kept)  # only what was missing
    after = {f.name: f.read_bytes() for f in folder.glob("n*/*.npz")}
    assert len(after) == 6 and all(after[name] == data for name, data in kept.items())  # finished ones untouched


def test_a_backend_already_running_other_threads_trains_in_a_worker_process_instead(tmp_path, monkeypatch):
    """One local worker is this process only if its backend can compute with the requested threads; a backend
    started earlier with another count (a notebook, another test) sends the models to a worker process."""
    import os

    from mia_repro.training import executor
    from mia_repro.training.threads import ThreadsError

    def started_with_other_threads(threads):
        raise ThreadsError(f"threads_per_model={threads}: TensorFlow already runs with 7 threads", 7)

    monkeypatch.setattr(executor, "apply_threads", started_with_other_threads)  # (in this process only)
    got, lines = {}, []
    run_units(pid_and_interval, [1, 2, 3], (), Execution(workers=1, threads_per_model=1), lambda u, r: got.__setitem__(u, r),
              log=lines.append)
    assert set(got) == {1, 2, 3} and os.getpid() not in {pid for pid, _, _ in got.values()}
    spans = sorted((start, end) for _, start, end in got.values())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))  # one model at a time
    assert lines == ["  this process's backend already runs with 7 thread(s), not 1: training in a worker "
                     "process of its own instead"]


def pid_and_interval(unit):
    import os

    start = time.time()
    time.sleep(0.3)
    return os.getpid(), start, time.time()


def test_cpu_vector_isa_reads_the_widest_flag():
    from mia_repro.training.jobs import cpu_vector_isa

    assert cpu_vector_isa("model name: X\nflags\t: fpu sse2 avx avx2 avx512f avx512bw\n") == "avx512"
    assert cpu_vector_isa("flags : fpu sse2 avx avx2\n") == "avx2"
    assert cpu_vector_isa("flags : fpu sse2\n") == "sse"
    assert cpu_vector_isa("processor : 0\n") == "unknown"
    assert cpu_vector_isa() in ("avx512", "avx2", "avx", "sse", "unknown")


def test_the_loky_processes_start_with_the_resource_tracker_warning_filtered(monkeypatch):
    import subprocess
    import sys

    from mia_repro.training import executor

    monkeypatch.setenv("PYTHONWARNINGS", "default")
    executor._quiet_tracker()
    executor._quiet_tracker()  # once only
    assert os.environ["PYTHONWARNINGS"] == "default,ignore:resource_tracker:UserWarning"
    warn = "import warnings; warnings.warn('resource_tracker: /tmp/joblib_x: FileNotFoundError()'); warnings.warn('other')"
    err = subprocess.run([sys.executable, "-c", warn], capture_output=True, text=True).stderr
    assert "resource_tracker" not in err and "UserWarning: other" in err  # only the tracker's warning is dropped


def test_a_dask_cluster_without_workers_is_reported_within_the_wait():
    """A scheduler that no worker joins: the run stops after ``worker_wait`` seconds with one line naming the
    scheduler, instead of waiting forever."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        execution = Execution(workers=None, scheduler=cluster.scheduler_address, threads_per_model=1, worker_wait=2)
        start = time.monotonic()
        with pytest.raises(TrainingFailed, match=f"the Dask cluster at {cluster.scheduler_address} has had no worker "
                                                 "for 2 s"):
            run_units(abs, [1, 2], execution=execution, desc="test")
        assert time.monotonic() - start < 30


def sleep_and_report(unit, folder):
    """A task: write this worker's pid to ``folder/<unit>.pid``, then sleep."""
    Path(folder, f"{unit}.pid").write_text(str(os.getpid()))
    time.sleep(120)
    return unit


@pytest.mark.parametrize("scheduler", [None, "local"], ids=["loky", "dask local"])
def test_workers_do_not_outlive_a_parent_killed_with_sigkill(tmp_path, scheduler):
    """SIGKILL to the process running the executor (no chance to clean up): its worker processes end within
    seconds instead of living on (they watch the parent's pid)."""
    code = ("import sys, test_executor as t\n"
            "from mia_repro.training import Execution, run_units\n"
            f"run_units(t.sleep_and_report, [1, 2], ({str(tmp_path)!r},), "
            f"Execution(workers=2, scheduler={scheduler!r}, threads_per_model=1))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(pids) == 2, "the workers never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a zombie is dead (its parent, now init, reaps it)
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 20
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(alive(p) for p in pids)
