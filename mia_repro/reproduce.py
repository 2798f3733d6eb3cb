"""The one-command reproduction: execute the staged notebooks in order with papermill.

    python -m mia_repro.reproduce --profile quick [--out DIR] [--data PATH] [--update-notebooks]

Each notebook of ``notebooks/`` runs with the papermill parameters
``profile``, ``data_path``, ``seed`` and ``results_dir``; the executed copies
and every figure land in ``results/<profile>/`` (or ``--out``).  Every stage
reuses the caches of the earlier ones, so a rerun only redoes what changed.
``--update-notebooks`` also writes the executed notebooks back over
``notebooks/`` (how the committed notebooks get their outputs).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from .config import PROJECT_ROOT, ConfigError, get_config

NOTEBOOKS = ("01_stage1_target_and_shadows.ipynb", "02_stage2_attack.ipynb", "03_mitigation.ipynb",
             "04_beyond_shokri.ipynb")


def execute_notebooks(profile: str, out_dir: str | Path | None = None, data_path: str | None = None,
                      seed: int | None = None, notebook_dir: Path = PROJECT_ROOT / "notebooks",
                      log=print, only: tuple[str, ...] | None = None) -> list[Path]:
    """Run the four notebooks in order; returns the paths of the executed copies.

    Raises papermill's ``PapermillExecutionError`` (naming the failing cell) if
    any cell fails, after the others before it have run.
    """
    import papermill as pm

    cfg = get_config(profile, results_dir=str(out_dir) if out_dir else None)
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    params = {"profile": profile, "data_path": data_path, "seed": seed, "results_dir": str(out) if out_dir else None}
    names = select_notebooks(only)
    done = []
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        log(f"[{i}/{len(names)}] {name} (profile {profile}) ...", flush=True)
        target = out / name
        try:
            pm.execute_notebook(str(notebook_dir / name), str(target), parameters=params, cwd=str(notebook_dir),
                                progress_bar=False, kernel_name="python3")
        except Exception as exc:
            exc.notebook = name  # for failure_line
            raise
        log(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - start:.0f}s -> {target}", flush=True)
        done.append(target)
    return done


def select_notebooks(only: tuple[str, ...] | None) -> list[str]:
    """The notebooks to run, in order: all, or those whose name starts with one of ``only`` (e.g. "01", "04")."""
    if not only:
        return list(NOTEBOOKS)
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
    p = argparse.ArgumentParser(prog="python -m mia_repro.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--out", default=None, help="results folder (default results/<profile>/)")
    p.add_argument("--data", default=None, help="folder holding cifar-10-batches-py/")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--update-notebooks", action="store_true", help="copy the executed notebooks over notebooks/")
    p.add_argument("--only", nargs="+", default=None, help="run only these notebooks (name prefixes, e.g. 01 04)")
    a = p.parse_args(argv)
    try:
        done = execute_notebooks(a.profile, a.out, a.data, a.seed, only=a.only)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # papermill's error knows the failing cell: show it and the exception line
        print(f"error: {failure_line(exc)}", file=sys.stderr)
        return 1
    if a.update_notebooks:
        for path in done:
            shutil.copyfile(path, PROJECT_ROOT / "notebooks" / path.name)
        print(f"updated {len(done)} notebooks in notebooks/ from the {a.profile} run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
