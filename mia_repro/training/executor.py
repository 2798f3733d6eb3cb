"""The executor: independent models trained on every core (joblib/loky) or on a Dask cluster.

Units of work go in; each unit's result comes back to the parent process as
soon as it finishes (completion order), and the parent — never a worker —
writes its cache file.  A task is a pure function ``fn(unit, *args)``: its
inputs are pickled to the worker (large arrays are memory-mapped by loky, or
scattered once per call by Dask), its result pickled back.

Engines, one code path (``joblib.Parallel(return_as="generator_unordered")``):

* ``scheduler=None`` (default): ``workers`` local processes through joblib's
  loky backend; no server.  ``workers == 1`` trains in this process.
* ``scheduler="local"``: a ``distributed.LocalCluster`` of ``workers``
  single-threaded processes, started and stopped here (for trying the cluster
  path, and for the tests).
* ``scheduler="tcp://host:8786"``: an existing Dask cluster, through joblib's
  Dask backend (``parallel_config(backend="dask")``).

joblib rather than raw Dask futures because the local default must be loky and
joblib gives both engines one call: it memory-maps (loky) or scatters (Dask)
the dataset, yields results unordered, and terminates the workers on Ctrl-C.

Faults: an exception inside a task is caught in the worker and reported by the
unit's name; the other units go on.  A worker that dies (SIGKILL, the OOM
killer) takes down the units it was running: each of them is run once more,
alone, so that a second loss names the unit that causes it; a unit lost
twice is reported by name.  Every finished unit has been handed to
``on_result`` before anything is raised: :class:`TrainingFailed` at the end
lists what did not finish, and rerunning the same command resumes.
"""
from __future__ import annotations

import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from .threads import effective_cpus, apply_threads


class TrainingFailed(RuntimeError):
    """Some units did not finish (an error in the worker, or a worker lost twice); the message names each."""


@dataclass(frozen=True)
class Execution:
    """Where and how wide models are trained.  Changes speed, never results (the threads aside, which
    are recorded per model), so no cache key includes it.

    ``workers``: parallel models (None: the machine's cores // ``threads_per_model``, at least 1; on a
    cluster: its worker count).  ``scheduler``: None (local loky processes), ``"local"`` (a Dask
    ``LocalCluster`` of ``workers`` processes) or a Dask scheduler address.  ``threads_per_model``:
    the backend's CPU threads inside each model's process.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads_per_model: int = 2

    def local_workers(self) -> int:
        """The number of local worker processes (loky or ``LocalCluster``)."""
        if self.workers is not None:
            return self.workers
        return max(1, effective_cpus() // self.threads_per_model)

    def describe(self) -> str:
        where = {None: "local processes (joblib/loky)", "local": "a Dask LocalCluster"}.get(
            self.scheduler, f"the Dask cluster at {self.scheduler}")
        width = "the cluster's workers" if self.scheduler not in (None, "local") else f"{self.local_workers()} worker(s)"
        if self.scheduler is None and self.local_workers() == 1:
            where = "this process"
        return f"{width} on {where}, {self.threads_per_model} thread(s) per model"


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    from concurrent.futures.process import BrokenProcessPool

    from joblib.externals.loky.process_executor import TerminatedWorkerError

    errors: list[type[BaseException]] = [TerminatedWorkerError, BrokenProcessPool]
    try:
        from distributed import KilledWorker

        errors.append(KilledWorker)
    except ImportError:  # Dask is optional for the local engine
        pass
    return tuple(errors)


def one_line(exc: BaseException) -> str:
    """``"TypeName: message"`` on one line (the first line of the message)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _guarded(fn: Callable, index: int, unit: Any, args: tuple, threads: int) -> tuple[int, str | None, Any]:
    """Run in the worker: ``(index, None, fn(unit, *args))``, or ``(index, error line, None)``."""
    try:
        apply_threads(threads)
        return index, None, fn(unit, *args)
    except Exception as exc:  # reported by the parent with the unit's name; KeyboardInterrupt passes
        return index, one_line(exc), None


@contextlib.contextmanager
def _engine(execution: Execution) -> Iterator[int]:
    """Configure joblib for ``execution``; yields the ``n_jobs`` to ask ``Parallel`` for."""
    import joblib

    if execution.scheduler is None:
        # inner_max_num_threads caps OpenMP/BLAS pools inside each worker at the model's thread count
        with joblib.parallel_config(backend="loky", inner_max_num_threads=execution.threads_per_model):
            yield execution.local_workers()
        return
    import dask
    from distributed import Client, LocalCluster

    if execution.scheduler == "local":
        # no retries by Dask itself: the executor's one retry (alone) applies, as with loky
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
                LocalCluster(n_workers=execution.local_workers(), threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client, joblib.parallel_config(backend="dask"):
            yield len(client.scheduler_info()["workers"])
        return
    try:
        client = Client(execution.scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise TrainingFailed(f"cannot reach the Dask scheduler at {execution.scheduler}: {one_line(exc)}") from None
    with client, joblib.parallel_config(backend="dask"):
        yield -1


def run_units(
    fn: Callable[..., Any],
    units: Sequence[Any],
    args: tuple = (),
    execution: Execution = Execution(),
    on_result: Callable[[Any, Any], None] | None = None,
    name: Callable[[Any], str] = str,
    size: Callable[[Any], int] = lambda unit: 1,
    desc: str = "models",
    log: Callable[[str], None] | None = None,
) -> None:
    """Run ``fn(unit, *args)`` for every unit under ``execution``; ``on_result(unit, result)`` in this
    process as each finishes, in completion order.

    ``name(unit)`` labels a unit in messages; ``size(unit)``: how many models it trains (the progress
    bar counts models).  ``log``: where lines go (default: ``tqdm.write``, so they do not break the bar).
    Raises :class:`TrainingFailed` after every other unit has finished if any unit failed or was lost twice.
    """
    write = log or tqdm.write
    if not units:
        return
    bar = tqdm(total=sum(size(u) for u in units), desc=desc, unit="model", leave=True)
    failed: dict[int, str] = {}

    def finished(index: int, error: str | None, result: Any) -> None:
        if error is None:
            if on_result is not None:
                on_result(units[index], result)
        else:
            failed[index] = error
            write(f"  {name(units[index])}: failed in its worker: {error}")
        bar.update(size(units[index]))

    try:
        if execution.scheduler is None and execution.local_workers() == 1:
            bar.set_postfix(running=1)
            for i, unit in enumerate(units):
                finished(*_guarded(fn, i, unit, args, execution.threads_per_model))
        else:
            _run_parallel(fn, units, args, execution, finished, failed, name, bar, write)
    finally:
        bar.close()
    if failed:
        raise TrainingFailed(f"{len(failed)} of {len(units)} not finished (the others are kept; rerun to retry): "
                             + "; ".join(f"{name(units[i])}: {e}" for i, e in sorted(failed.items())))


def _run_parallel(fn, units, args, execution, finished, failed, name, bar, write) -> None:
    """The parallel rounds: everything at once; after a lost worker, each unit it may have been
    running once more, alone; a unit lost twice goes to ``failed``."""
    from joblib import Parallel, delayed

    lost_errors = _lost_worker_errors()
    losses: Counter = Counter()
    pending = list(range(len(units)))
    with _engine(execution) as n_jobs:
        while pending:
            suspects = [i for i in pending if losses[i]]
            batch = suspects[:1] if suspects else pending
            dispatched: list[int] = []
            done: set[int] = set()

            def tasks():
                for i in batch:
                    dispatched.append(i)
                    yield delayed(_guarded)(fn, i, units[i], args, execution.threads_per_model)

            workers = n_jobs if n_jobs > 0 else len(batch)
            bar.set_postfix(running=min(workers, len(batch)))
            try:
                # pre_dispatch="n_jobs": a task is handed out only when a worker is free, so "dispatched and
                # not finished" is exactly what the workers are running when one of them dies
                for index, error, result in Parallel(n_jobs=n_jobs, return_as="generator_unordered",
                                                     pre_dispatch="n_jobs", batch_size=1)(tasks()):
                    done.add(index)
                    finished(index, error, result)
                    bar.set_postfix(running=min(workers, len(batch) - len(done)))
            except lost_errors as exc:
                lost = [i for i in dispatched if i not in done]
                for i in lost:
                    losses[i] += 1
                if len(batch) == 1 and losses[batch[0]] >= 2:
                    done.add(batch[0])
                    finished(batch[0], f"its worker died twice, the second time running alone ({one_line(exc)})", None)
                else:
                    write(f"  a worker died ({type(exc).__name__}); running once more, alone: "
                          + ", ".join(name(units[i]) for i in lost))
            pending = [i for i in pending if i not in done]
