"""The executor: independent models trained on every core (joblib/loky) or on a Dask cluster.

Units of work go in; each unit's result comes back to the parent process as
soon as it finishes (completion order), and the parent — never a worker —
writes its cache file.  A task is a pure function ``fn(unit, *args)``: its
inputs are pickled to the worker (large arrays are memory-mapped by loky, or
scattered once per call by Dask), its result pickled back.

Engines (one task function, one result path, one progress bar and report; two ways to submit):

* ``scheduler=None`` (default): ``workers`` local processes through joblib's
  loky backend (``joblib.Parallel(return_as="generator_unordered")``, which
  memory-maps the dataset into the workers and terminates them on Ctrl-C); no
  server.  ``workers == 1`` trains in this process (in one worker process if this
  process's backend already runs with another thread count).
* ``scheduler="local"``: a ``distributed.LocalCluster`` of ``workers``
  single-threaded processes, started and stopped here (for trying the cluster
  path, and for the tests).
* ``scheduler="tcp://host:8786"``: an existing Dask cluster.

On Dask the executor submits futures itself (``client.submit``,
``distributed.as_completed``) rather than through joblib's Dask backend: that
backend never raises a ``KilledWorker`` into an unordered generator — the stage
would wait forever for a unit whose worker died (seen with joblib 1.6.0,
distributed 2026.8.0).  ``args`` travel with each task (nothing is scattered:
scattered data dies with the last worker that holds it, and Dask cannot
recompute it), so the stages pass a :class:`~mia_repro.training.task.DataRef`
and every worker loads CIFAR-10 from its own disk, once per process.

Faults: an exception inside a task is caught in the worker and reported by the
unit's name; the other units go on.  A worker that dies (SIGKILL, the OOM
killer) loses the units it was running.  loky does not say which units those
were, and it takes down every running unit with it: each of them is run once
more, alone, so that a second loss names the unit that causes it.  Dask's
scheduler knows which unit a dead worker ran and reruns just that one
(``distributed.scheduler.allowed-failures``: 1 on our LocalCluster, the
cluster's own setting elsewhere).  A unit lost again is reported by name.
Every finished unit has been handed to ``on_result`` before anything is
raised: :class:`TrainingFailed` at the end lists what did not finish, and
rerunning the same command resumes.
"""
from __future__ import annotations

import time

import contextlib
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from mia_repro.base.progress import progress

from mia_repro.training.threads import ThreadsError, apply_threads, effective_cpus
from mia_repro.base.errors import MiaReproError


#: loky's resource tracker, a process of its own that writes to the console, warns ("resource_tracker: ...")
#: when Ctrl-C left it a temporary folder already removed; its processes start with this warning filter
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def _quiet_tracker() -> None:
    """Add :data:`TRACKER_WARNINGS` to ``PYTHONWARNINGS``, which the worker and tracker processes inherit."""
    current = os.environ.get("PYTHONWARNINGS", "")
    if TRACKER_WARNINGS not in current.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(w for w in (current, TRACKER_WARNINGS) if w)


class TrainingFailed(MiaReproError, RuntimeError):
    """Some units did not finish (an error in the worker, or a worker lost twice); the message names each."""


@dataclass(frozen=True)
class Execution:
    """Where and how wide models are trained.  Changes speed, never results (the threads aside, which
    are recorded per model), so no cache key includes it.

    ``workers``: parallel models (None: the machine's cores // ``threads_per_model``, at least 1; on a
    cluster: its worker count).  ``scheduler``: None (local loky processes), ``"local"`` (a Dask
    ``LocalCluster`` of ``workers`` processes) or a Dask scheduler address.  ``threads_per_model``:
    the backend's CPU threads inside each model's process.  ``worker_wait``: seconds a Dask cluster may have
    no worker (none joined, or all died) before the run stops with :class:`TrainingFailed` naming the
    scheduler.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads_per_model: int = 2
    worker_wait: float = 120.0

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


_WATCHED: set[int] = set()


def watch_parent(pid: int | None, interval: float = 1.0) -> None:
    """In a worker process: a daemon thread that ends this process when process ``pid`` (the parent that
    submitted the work) no longer exists -- a parent killed with SIGKILL cannot stop its workers itself.
    Nothing for None or this very process; started once per process and pid."""
    import threading

    if pid is None or pid == os.getpid() or pid in _WATCHED:
        return
    _WATCHED.add(pid)

    def watch() -> None:
        while True:
            time.sleep(interval)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid exists (another user's now, or ours without the right): keep going
                pass

    threading.Thread(target=watch, name="mia-repro-parent-watch", daemon=True).start()


def _guarded(fn: Callable, index: int, unit: Any, args: tuple, threads: int, parent: int | None = None
             ) -> tuple[int, str | None, Any]:
    """Run in the worker: ``(index, None, fn(unit, *args))``, or ``(index, error line, None)``; ``parent``: the
    pid of the submitting process, which the worker outlives by at most a second (:func:`watch_parent`)."""
    watch_parent(parent)
    try:
        apply_threads(threads)
        return index, None, fn(unit, *args)
    except Exception as exc:  # reported by the parent with the unit's name; KeyboardInterrupt passes
        return index, one_line(exc), None


@contextlib.contextmanager
def _dask_client(execution: Execution) -> Iterator[Any]:
    """A ``distributed.Client``: on a LocalCluster of ``workers`` processes started here, or at the address."""
    import dask
    from distributed import Client, LocalCluster

    if execution.scheduler == "local":
        # Dask reruns a unit whose worker died once, as loky's path does; saturation 1.0: a worker holds only the
        # unit it runs, so a death charges that unit alone (at the default 1.1 a queued bystander is charged too)
        with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                              "distributed.scheduler.worker-saturation": 1.0}), \
                LocalCluster(n_workers=execution.local_workers(), threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(execution.scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise TrainingFailed(f"cannot reach the Dask scheduler at {execution.scheduler}: {one_line(exc)}") from None
    with client:
        yield client


def _completed_while_workers(client, futures, execution: Execution, poll: float = 1.0):
    """The futures as they complete, like ``distributed.as_completed``, but a cluster with no worker for
    ``execution.worker_wait`` seconds (none joined, or all died) raises :class:`TrainingFailed`."""
    from distributed import wait

    pending, empty_since = set(futures), None
    while pending:
        try:
            done, pending = wait(pending, timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        yield from done
        if done or not pending:
            empty_since = None
            continue
        if client.scheduler_info()["workers"]:
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since > execution.worker_wait:
            raise TrainingFailed(f"the Dask cluster at {execution.scheduler} has had no worker for "
                                 f"{execution.worker_wait:g} s ({len(pending)} model unit(s) waiting): start workers "
                                 f"(`dask worker <scheduler address>`) or give --worker-wait more seconds")


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
    bar = progress(total=sum(size(u) for u in units), desc=desc, unit="model", leave=True)
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
        if _in_this_process(execution, write):
            bar.set_postfix(running=1)
            for i, unit in enumerate(units):
                finished(*_guarded(fn, i, unit, args, execution.threads_per_model))
        elif execution.scheduler is None:
            _run_loky(fn, units, args, execution, finished, name, bar, write)
        else:
            _run_dask(fn, units, args, execution, finished, bar)
    finally:
        bar.close()
    if failed:
        raise TrainingFailed(f"{len(failed)} of {len(units)} not finished (the others are kept; rerun to retry): "
                             + "; ".join(f"{name(units[i])}: {e}" for i, e in sorted(failed.items())))


def _in_this_process(execution: Execution, write) -> bool:
    """Whether one local worker can be this process: only if its backend computes with the requested threads
    (a backend started earlier with another count cannot change it; then a worker process of its own,
    whose models have the bits of a fresh process, trains instead)."""
    if execution.scheduler is not None or execution.local_workers() != 1:
        return False
    try:
        apply_threads(execution.threads_per_model)
        return True
    except ThreadsError as exc:
        write(f"  this process's backend already runs with {exc.current} thread(s), not "
              f"{execution.threads_per_model}: training in a worker process of its own instead")
        return False


def _run_loky(fn, units, args, execution, finished, name, bar, write) -> None:
    """Local processes, in rounds: everything at once; after a lost worker, each unit it may have been
    running once more, alone; a unit lost twice is reported."""
    import joblib
    from joblib import Parallel, delayed

    lost_errors = _lost_worker_errors()
    losses: Counter = Counter()
    pending = list(range(len(units)))
    n_jobs = execution.local_workers()
    # joblib runs n_jobs=1 in this process: one worker process is asked for as two, fed one job at a time
    pool = max(2, n_jobs)
    # inner_max_num_threads caps OpenMP/BLAS pools inside each worker at the model's thread count
    with joblib.parallel_config(backend="loky", inner_max_num_threads=execution.threads_per_model):
        while pending:
            suspects = [i for i in pending if losses[i]]
            batch = suspects[:1] if suspects else pending
            dispatched: list[int] = []
            done: set[int] = set()

            def tasks():
                for i in batch:
                    dispatched.append(i)
                    yield delayed(_guarded)(fn, i, units[i], args, execution.threads_per_model, os.getpid())

            bar.set_postfix(running=min(n_jobs, len(batch)))
            _quiet_tracker()
            try:
                # pre_dispatch=n_jobs: a task is handed out only when a worker is free, so "dispatched and
                # not finished" is exactly what the workers are running when one of them dies
                for index, error, result in Parallel(n_jobs=pool, return_as="generator_unordered",
                                                     pre_dispatch=n_jobs, batch_size=1)(tasks()):
                    done.add(index)
                    finished(index, error, result)
                    bar.set_postfix(running=min(n_jobs, len(batch) - len(done)))
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


def _run_dask(fn, units, args, execution, finished, bar) -> None:
    """A Dask cluster: one future per unit (``args`` by value); results as they complete."""
    import uuid

    from distributed import KilledWorker, as_completed

    with _dask_client(execution) as client:
        n_workers = max(1, len(client.scheduler_info()["workers"]))
        run = uuid.uuid4().hex[:8]
        # a LocalCluster's workers end with this process; a remote cluster's are not ours to end
        parent = os.getpid() if execution.scheduler == "local" else None
        futures = {client.submit(_guarded, fn, i, unit, args, execution.threads_per_model, parent,
                                 key=f"mia-repro-{run}-{i}", pure=False): i for i, unit in enumerate(units)}
        left = len(futures)
        bar.set_postfix(running=min(n_workers, left))
        try:
            for future in _completed_while_workers(client, futures, execution):
                index = futures[future]
                if future.status == "error":
                    exc = future.exception()
                    error = (f"its worker died on every attempt ({one_line(exc)})" if isinstance(exc, KilledWorker)
                             else one_line(exc))
                    finished(index, error, None)
                else:
                    finished(*future.result())
                left -= 1
                bar.set_postfix(running=min(n_workers, left))
        finally:
            client.cancel(list(futures))  # Ctrl-C or an error here: nothing more runs for this stage
