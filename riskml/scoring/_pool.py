"""Worker processes for the local engine: score the chunks of a roster on every core.

The local engine's chunks are independent (features, scores and reasons of a household depend
only on its own rows, the roster-wide village context and the model), so ``workers`` processes
score them side by side and the parent puts the results back in chunk order: the output does not
depend on the number of workers.

Where the platform has ``fork`` (Linux) and it is safe (:func:`start_method`), the workers
are forked after the bundle has been split (:class:`~riskml.scoring._local.BundleChunker`): they
share the parent's tables copy-on-write and get only a chunk number per task, so nothing but the
results is pickled. Otherwise they are started by a fork server (or spawned), get the model
once and each chunk's sub-bundle per task.

LightGBM and the numba kernels use threads (OpenMP); every worker runs them on one thread (one
process per core instead), the way Spark tasks do (``riskml.scoring._spark``).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from riskml.scoring._partition import ScoringError

__all__ = ["Chunks", "one_thread", "score_in_workers", "start_method", "usable_workers"]

R = TypeVar("R")


class Chunks(Protocol):
    """What the pool splits the work by (:class:`~riskml.scoring._local.BundleChunker`)."""

    def __len__(self) -> int: ...

    def chunk(self, i: int) -> tuple[Any, Any]: ...


def usable_workers(requested: int, n_households: int) -> int:
    """``requested`` capped by the cores this process may use and by the households to score."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform (macOS, Windows)
        cores = os.cpu_count() or 1
    return max(1, min(requested, cores, n_households))


# ---------------------------------------------------------------------------------------------
# inside a worker process

_WORKER: dict[str, Any] = {}


def one_thread(model: Any) -> None:
    """One process per core (a worker here, a Spark task there): LightGBM and numba threads on
    top would only oversubscribe."""
    estimator = getattr(model, "model", None)
    if estimator is not None and hasattr(estimator, "n_jobs"):
        estimator.n_jobs = 1
    with contextlib.suppress(ImportError, ValueError):
        import numba  # imported here: only workers set its threads

        numba.set_num_threads(1)


def _init_worker(score: Callable[[Any, Any, Any], Any], job: Any, chunks: Chunks | None) -> None:
    """Set a worker up: Ctrl-C and SIGTERM are the parent's to handle, one thread, its job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's "SIGTERM as interrupt"
    one_thread(getattr(job, "model", None))
    _WORKER.update(score=score, job=job, chunks=chunks)


def _ready() -> int:
    return os.getpid()


def _run_task(task: int | tuple[Any, Any]) -> Any:
    """A chunk number (forked workers cut the chunk themselves) or the chunk itself."""
    part, uni = _WORKER["chunks"].chunk(task) if isinstance(task, int) else task
    return _WORKER["score"](_WORKER["job"], part, uni)


# ---------------------------------------------------------------------------------------------
# in the parent


def start_method() -> str:
    """``fork`` where the platform has it and it is safe, else ``forkserver`` or ``spawn``.

    Forking is unsafe once this process has run numba's OpenMP threading layer (numba aborts
    the child: "fork() called from a process already using GNU OpenMP"), e.g. after scoring with
    ``workers: 1`` or explaining in the same process. LightGBM's OpenMP is safe in a forked
    child on one thread (every worker runs it on one).
    """
    methods = mp.get_all_start_methods()
    if "fork" not in methods:
        return "spawn"
    if _numba_layer() != "omp":
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _numba_layer() -> str | None:
    """The threading layer numba has started in this process (None: none yet, or no numba)."""
    numba = sys.modules.get("numba")  # not imported: nothing of numba has run here
    if numba is None:
        return None
    try:
        return str(numba.threading_layer())
    except ValueError:  # no parallel kernel has run in this process yet
        return None


def _stop(pool: ProcessPoolExecutor, failed: bool) -> None:
    """Shut the pool down; after a failure or an interrupt, kill the workers still busy."""
    if not failed:
        pool.shutdown(wait=True)
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _collect(
    pool: ProcessPoolExecutor,
    chunks: Chunks,
    workers: int,
    forked: bool,
    on_done: Callable[[R], None],
) -> list[R]:
    """Submit the chunks (at most ``workers + 1`` in flight) and gather the results in order."""
    results: dict[int, R] = {}
    pending: dict[Future[R], int] = {}
    todo = iter(range(len(chunks)))
    while True:
        while len(pending) <= workers and (i := next(todo, None)) is not None:
            task: int | tuple[Any, Any] = i if forked else chunks.chunk(i)
            pending[pool.submit(_run_task, task)] = i
        if not pending:
            break
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            i = pending.pop(future)
            results[i] = future.result()  # a worker's exception is raised here, as it was
            on_done(results[i])
    return [results[i] for i in range(len(chunks))]


def score_in_workers(
    chunks: Chunks,
    score: Callable[[Any, Any, Any], R],
    job: Any,
    workers: int,
    start_progress: Callable[[], tuple[Callable[[R], None], Callable[[], None]]],
) -> list[R]:
    """``score(job, *chunks.chunk(i))`` for every chunk in ``workers`` processes, in chunk order.

    ``score`` must be a module-level function (spawned workers import it); ``job`` holds what
    every chunk shares (its ``model`` is set to one thread). ``start_progress`` is called once
    the workers exist (no progress thread is forked) and returns the callback fed each result
    and the function that ends the progress display.

    A worker's exception is raised in the parent with its message; a worker that dies (killed,
    out of memory) is a :class:`ScoringError`; Ctrl-C stops the workers.
    """
    method = start_method()
    forked = method == "fork"
    context = mp.get_context(method)
    if method == "forkserver":  # its server imports the engine once; workers fork from it
        context.set_forkserver_preload([score.__module__])
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(score, job, chunks if forked else None),
    )
    failed = True
    if forked:
        gc.freeze()  # the workers' garbage collector leaves the shared objects' pages alone
    try:
        pool.submit(_ready).result()  # fork every worker now, before any other thread starts
        on_done, stop = start_progress()
        try:
            results = _collect(pool, chunks, workers, forked, on_done)
        finally:
            stop()
        failed = False
    except BrokenProcessPool as exc:
        raise ScoringError(
            f"A scoring worker process died ({exc}); it may have run out of memory. Score with "
            "fewer workers (workers: 1 in the scoring config) or smaller chunks (chunk_households)."
        ) from exc
    finally:
        _stop(pool, failed)
        gc.unfreeze()
    return results
