"""The one-command reproduction: execute the staged notebooks in order with papermill.

    python -m mia_repro.tools.reproduce --profile quick [--out DIR] [--data PATH] [--update-notebooks]

Each notebook of ``notebooks/`` runs with the papermill parameters
``profile``, ``data_path``, ``seed`` and ``results_dir``; the executed copies
and every figure land in ``results/<profile>/`` (or ``--out``).  Every stage
reuses the caches of the earlier ones, so a rerun only redoes what changed.
``--update-notebooks`` also writes the executed notebooks back over
``notebooks/`` (how the committed notebooks get their outputs).
"""
from __future__ import annotations

import argparse
import errno
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

from mia_repro.base.paths import PROJECT_ROOT
from mia_repro.base.errors import ConfigError
from mia_repro.experiment.profiles import get_config
from mia_repro.data.cifar10 import DatasetNotFoundError

NOTEBOOKS = ("01_stage1_target_and_shadows.ipynb", "02_stage2_attack.ipynb", "03_mitigation.ipynb",
             "04_beyond_shokri.ipynb", "05_your_own_model.ipynb", "06_reference_pool.ipynb")


def execute_notebooks(profile: str, out_dir: str | Path | None = None, data_path: str | None = None,
                      seed: int | None = None, notebook_dir: Path = PROJECT_ROOT / "notebooks",
                      log=print, only: tuple[str, ...] | None = None) -> list[Path]:
    """Run the notebooks in order; returns the paths of the executed copies.

    Every argument is checked before anything is created (:func:`check_arguments`).  Each notebook is
    executed into a temporary file that replaces ``<out>/<name>`` only when every cell ran; a notebook that
    fails or is interrupted is kept as ``<name>.failed.ipynb`` (its error cell shows where it stopped) and
    never looks complete.  Raises papermill's ``PapermillExecutionError`` (naming the failing cell) if any
    cell fails, after the notebooks before it have run.
    """
    import papermill as pm

    # resolved once, here: the notebooks run with notebooks/ as their working directory
    out_dir = Path(out_dir).resolve() if out_dir is not None else None
    data_path = str(Path(data_path).resolve()) if data_path is not None else None
    cfg, names = check_arguments(profile, out_dir, data_path, seed, only)
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "data_path": data_path, "seed": seed, "results_dir": str(out) if out_dir else None}
    done = []
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        log(f"[{i}/{len(names)}] {name} (profile {profile}) ...", flush=True)
        target, partial = out / name, out / f".{name}.running.ipynb"
        try:
            with kernel_stderr_to(out / KERNEL_LOG), no_progress_bars():
                pm.execute_notebook(str(notebook_dir / name), str(partial), parameters=params, cwd=str(notebook_dir),
                                    progress_bar=False, kernel_name="python3", log_output=False)
            make_portable(partial, notebook_dir / name, target)
        except BaseException as exc:  # failed or interrupted: never leave it where a complete one belongs
            if partial.exists():
                if _readable_notebook(partial):
                    os.replace(partial, out / name.replace(".ipynb", ".failed.ipynb"))
                else:  # cut short mid-write (a full disk): no half-written file under any name
                    partial.unlink(missing_ok=True)
            exc.notebook = name  # for failure_line
            raise
        os.replace(partial, target)
        (out / name.replace(".ipynb", ".failed.ipynb")).unlink(missing_ok=True)
        log(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - start:.0f}s -> {target}", flush=True)
        done.append(target)
    return done


KERNEL_LOG = ".kernel.log"


@contextlib.contextmanager
def no_progress_bars():
    """The package's progress bars off in the kernels started within (:mod:`mia_repro.base.progress`): a widget's
    live state is not saved, so an executed notebook would show each bar frozen at 0%."""
    from mia_repro.base.environment import setenv
    from mia_repro.base.progress import ENV

    with setenv(ENV, "1"):
        yield


def make_portable(path: Path, source: Path, target: Path) -> None:
    """Rewrite the executed notebook at ``path`` (to be published as ``target``, run from ``source``) so that it
    names no folder of this machine: papermill's ``input_path`` / ``output_path`` and every output that prints
    a path inside the project become relative to the project (``results/quick/summary.json``); the home
    folder becomes ``~``; papermill's injected parameters cell gets a fixed id (so that a rerun differs from the
    committed notebook in its times only)."""
    import json

    from mia_repro.base.paths import portable

    doc = json.loads(path.read_text())
    meta = doc.get("metadata", {}).get("papermill", {})
    if "input_path" in meta:
        meta["input_path"] = portable(source)
    if "output_path" in meta:
        meta["output_path"] = portable(target)
    for cell in doc.get("cells", []):  # papermill's injected cell gets a random id on every run: fix it
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    for old, new in ((str(PROJECT_ROOT) + "/", ""), (str(PROJECT_ROOT), "."), (str(Path.home()) + "/", "~/")):
        if len(old) > 2:
            text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    path.write_text(text + "\n")


def _readable_notebook(path: Path) -> bool:
    """Whether ``path`` holds a complete notebook (valid JSON with cells)."""
    import json

    try:
        return "cells" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def kernel_stderr_to(path: Path):
    """File descriptor 2 appended to ``path`` for the block: the Jupyter kernel inherits it, so its own warnings
    ("Kernel is running over TCP ...") and its shutdown tracebacks after Ctrl-C land there, not on the console.
    Cell errors still reach the user through papermill's exception (:func:`failure_line`)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def check_arguments(profile: str, out_dir, data_path, seed, only) -> tuple:
    """``(config, notebook names)``, or :class:`ConfigError` / :class:`~mia_repro.data.cifar10.DatasetNotFoundError`
    before any folder is made: the profile, seed and paths (as the stages check them), an ``--out`` that can
    hold results, the dataset, and ``--only``."""
    from mia_repro.tools.cli import check_writable
    from mia_repro.data.cifar10 import named_batch_dir

    cfg = get_config(profile, results_dir=str(out_dir) if out_dir is not None else None, seed=seed,
                     data_path=data_path)
    check_writable(cfg.output_dir, "--out")
    if data_path is not None:  # (without one, the notebooks search as the stages do, download included)
        named_batch_dir(data_path)
    return cfg, select_notebooks(only)


def summary_lines(out: Path) -> list[str]:
    """The closing summary: where the results went and, per size, the headline of the Shokri attack."""
    import json

    from mia_repro.experiment.layout import Layout

    lines = [f"results in {out}"]
    try:
        summary = json.loads(Layout.at(out).summary.read_text())
        for n, block in summary["sizes"].items():
            a, t = block["attack"], block["target"]
            lines.append(f"  n={n}: target train/test acc {t['train_acc']:.3f}/{t['test_acc']:.3f}; Shokri SVM "
                         f"precision {a['precision']:.3f}, recall {a['recall']:.3f}, AUC {a['auc']:.3f}")
    except (OSError, ValueError, KeyError, TypeError):
        lines.append("  (no summary.json: notebook 02 did not run)")
    return lines


def select_notebooks(only: tuple[str, ...] | None) -> list[str]:
    """The notebooks to run, in order: all, or those whose name starts with one of ``only`` (e.g. "01", "04")."""
    if only is None:
        return list(NOTEBOOKS)
    if not only or any(not o.strip() for o in only):
        raise ConfigError(f"--only: empty notebook name; choose from {', '.join(NOTEBOOKS)}")
    unknown = [o for o in only if not any(n.startswith(o) for n in NOTEBOOKS)]
    if unknown:
        raise ConfigError(f"--only: no notebook starts with {unknown[0]!r}; choose from {', '.join(NOTEBOOKS)}")
    return [n for n in NOTEBOOKS if any(n.startswith(o) for o in only)]


def failure_line(exc: Exception) -> str:
    """One line for a failed run: the notebook, the failing cell's number and first line, and the exception itself."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename is None:
        return f"notebook execution failed: {type(exc).__name__}: {exc}"
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", "?")
    source = (getattr(exc, "source", "") or "").strip().splitlines()
    first = f" ({source[0][:80]})" if source else ""
    notebook = getattr(exc, "notebook", None) or "a notebook"
    return f"{notebook}: cell {cell}{first} raised {ename}: {evalue}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mia_repro.tools.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--out", default=None, help="results folder (default results/<profile>/)")
    p.add_argument("--data", default=None, help="folder holding cifar-10-batches-py/")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--update-notebooks", action="store_true", help="copy the executed notebooks over notebooks/")
    p.add_argument("--only", nargs="+", default=None, help="run only these notebooks (name prefixes, e.g. 01 04)")
    a = p.parse_args(argv)
    start = time.perf_counter()
    from mia_repro.tools.cli import _terminate_as_interrupt, threading_main

    if threading_main():  # SIGTERM (kill, a job scheduler) ends the run like Ctrl-C: one line, .failed.ipynb kept
        import signal

        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    from mia_repro.experiment.profiles import profile_note

    if (note := profile_note(a.profile)) is not None:
        print(note)
    try:
        done = execute_notebooks(a.profile, a.out, a.data, a.seed, only=a.only)
    except (ConfigError, DatasetNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        from mia_repro.tools.cli import no_space

        print(f"error: {no_space(argparse.Namespace(results_dir=a.out, profile=a.profile))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        name = getattr(exc, "notebook", "the notebook")
        print(f"interrupted during {name}: its partial run is kept as its .failed.ipynb, the notebooks before it "
              "are complete, and every stage's finished work is cached; rerun the same command", file=sys.stderr)
        return 130
    except Exception as exc:  # papermill's error knows the failing cell: show it and the exception line
        if f"[Errno {errno.ENOSPC}]" in str(getattr(exc, "evalue", "")):  # a full disk inside a notebook's kernel
            from mia_repro.tools.cli import no_space

            print(f"error: {no_space(argparse.Namespace(results_dir=a.out, profile=a.profile))}", file=sys.stderr)
            return 2
        print(f"error: {failure_line(exc)} (the kernel's own messages: {Path(a.out or PROJECT_ROOT / 'results' / a.profile) / KERNEL_LOG})",
              file=sys.stderr)
        return 1
    if a.update_notebooks:
        for path in done:
            shutil.copyfile(path, PROJECT_ROOT / "notebooks" / path.name)
        print(f"updated {len(done)} notebooks in notebooks/ from the {a.profile} run")
    out = done[-1].parent if done else Path(a.out or PROJECT_ROOT / "results" / a.profile)
    from mia_repro.tools.cli import print_reports

    print_reports(out)
    print(f"done: {len(done)} notebook(s) in {time.perf_counter() - start:.0f}s")
    print("\n".join(summary_lines(out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
