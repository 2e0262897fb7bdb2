"""Where sweep batches run: in-process, local processes, or a Dask cluster.

Every executor has one method, :meth:`imap`, that runs ``fn(context, batch)`` for every
batch and yields the results *as they finish* (any order), keeping only a bounded window
of batches in flight so a sweep of a million points never submits them all at once.
``context`` (base architecture, traces, mode, evaluator) is shipped to each worker once,
not with every batch.  Executors are context managers; :func:`make_executor` builds one
from a name.

Dask is the ``vitsim[dask]`` extra and is imported only inside :class:`DaskExecutor`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator

from sim.errors import ConfigError, SimulationError

__all__ = [
    "Executor", "InlineExecutor", "ProcessExecutor", "DaskExecutor", "make_executor",
    "default_workers",
]

log = logging.getLogger(__name__)


def default_workers() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class Executor:
    """Base class: runs batches and yields results as they complete."""

    #: Parallel workers (used to size batches).
    workers: int = 1

    def imap(self, fn: Callable, context, batches: Iterable) -> Iterator:
        """An iterator of ``fn(context, batch)`` for every batch, in completion order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InlineExecutor(Executor):
    """Run every batch in this process, in order (debugging, tiny sweeps, 1 core)."""

    workers = 1

    def imap(self, fn, context, batches):
        for batch in batches:
            yield fn(context, batch)


# -- local processes -------------------------------------------------------------------

_CONTEXT = None


def _init_worker(context, parent_pid: int | None = None) -> None:
    """Process-pool initializer: keep the shared context; Ctrl-C is the parent's job;
    exit when the sweep process dies, whatever killed it (see :func:`_watch_parent`)."""
    global _CONTEXT
    _CONTEXT = context
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        _watch_parent(parent_pid)


#: Seconds between a worker's checks that its sweep process is alive.
PARENT_POLL_S = 0.5


def _watch_parent(parent_pid: int) -> None:
    """Exit this worker within ~1 s of ``parent_pid`` dying (even by SIGKILL): Linux's
    ``PR_SET_PDEATHSIG`` when the parent forked us directly, plus a daemon thread polling
    the parent (forkserver workers are the server's children, and other platforms)."""
    import threading
    import time

    first_ppid = os.getppid()
    if first_ppid == parent_pid:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def gone() -> bool:
        if os.getppid() != first_ppid:  # re-parented: our parent (sweep or server) died
            return True
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        try:  # a killed parent not yet reaped is a zombie: gone too
            with open(f"/proc/{parent_pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except (OSError, IndexError):
            return False

    def poll():
        while not gone():
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=poll, name="vitsim-parent-watch", daemon=True).start()


def _call_with_context(fn, batch):
    return fn(_CONTEXT, batch)


def _mp_context():
    """``fork`` when this process has a single thread (fast start, no ``__main__``
    guard needed), else ``forkserver`` with ``sim`` preloaded (forking a threaded process
    is unsafe), else the platform default (``spawn`` on Windows)."""
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["sim", "sim.search.sweep"])
        return ctx
    return multiprocessing.get_context()


class ProcessExecutor(Executor):
    """A local process pool (:class:`concurrent.futures.ProcessPoolExecutor`).

    Parameters
    ----------
    workers : int, optional
        Worker processes; default all cores this process may use.
    window : int
        Batches in flight per worker (>= 1); 2 keeps workers busy while results stream.

    Notes
    -----
    Workers ignore SIGINT; on Ctrl-C the parent cancels queued batches and stops the
    pool, so at most the batches being computed (one per worker) are lost.  A worker
    that dies (segfault, OOM kill) raises :class:`SimulationError`; finished batches are
    already saved, so a rerun resumes.
    """

    def __init__(self, workers: int | None = None, window: int = 2):
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ConfigError(f"workers must be an integer >= 1, not {workers!r}")
        self.workers = workers or default_workers()
        self.window = max(1, int(window))
        self._pool = None

    def imap(self, fn, context, batches):
        """Start the pool and submit the first window now (so workers fork before the
        caller starts any thread, e.g. a progress bar); return the result iterator."""
        from concurrent.futures import ProcessPoolExecutor

        batches = iter(batches)
        self._pool = pool = ProcessPoolExecutor(
            self.workers, mp_context=_mp_context(), initializer=_init_worker,
            initargs=(context, os.getpid()))
        pending = set()
        for batch in batches:
            pending.add(pool.submit(_call_with_context, fn, batch))
            if len(pending) >= self.workers * self.window:
                break
        return self._results(fn, batches, pending)

    def _results(self, fn, batches, pending):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pool = self._pool
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()
                    nxt = next(batches, None)
                    if nxt is not None:
                        pending.add(pool.submit(_call_with_context, fn, nxt))
                    yield result
        except BrokenProcessPool as exc:
            raise SimulationError(f"a sweep worker process died ({exc}); finished batches "
                                  "are saved, rerun the sweep to resume") from exc
        finally:
            for fut in pending:
                fut.cancel()
            self.close()

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# -- Dask distributed ------------------------------------------------------------------

def _dask_call(fn, context, batch):
    return fn(context, batch)


class DaskExecutor(Executor):
    """Run batches on a Dask distributed cluster (the ``vitsim[dask]`` extra).

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        ``"tcp://host:port"`` of a running scheduler, or a connected ``Client`` (not
        closed by this executor).  ``None`` uses the current default client.
    window : int
        Batches in flight per worker thread.

    Notes
    -----
    The workers must be able to import ``sim`` (install vitsim on every worker).  The
    context is scattered once to every worker (``broadcast=True``).
    """

    def __init__(self, scheduler=None, window: int = 2):
        try:
            from distributed import Client, default_client
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the Dask executor needs the dask extra: "
                              "pip install 'vitsim[dask]'") from exc
        self._own = False
        if scheduler is None:
            try:
                self.client = default_client()
            except ValueError:
                raise ConfigError("executor 'dask' needs a running distributed.Client; pass "
                                  "a tcp://host:port scheduler address or a Client") from None
        elif isinstance(scheduler, str):
            self.client = Client(scheduler)
            self._own = True
        else:
            self.client = scheduler
        self.window = max(1, int(window))
        threads = self.client.nthreads()
        self.workers = max(1, sum(threads.values()) if threads else 1)

    def imap(self, fn, context, batches):
        from distributed import as_completed

        batches = iter(batches)
        ctx = self.client.scatter(context, broadcast=True, hash=False)
        first = []
        for batch in batches:
            first.append(self.client.submit(_dask_call, fn, ctx, batch, pure=False))
            if len(first) >= self.workers * self.window:
                break
        queue = as_completed(first)
        try:
            for fut in queue:
                result = fut.result()
                fut.release()
                nxt = next(batches, None)
                if nxt is not None:
                    queue.add(self.client.submit(_dask_call, fn, ctx, nxt, pure=False))
                yield result
        finally:
            remaining = list(queue.futures) if hasattr(queue, "futures") else []
            if remaining:
                self.client.cancel(remaining)
            ctx.release()

    def close(self):
        if self._own and self.client is not None:
            self.client.close()
            self.client = None


def make_executor(executor="process", workers: int | None = None) -> Executor:
    """An executor from a name or object.

    Parameters
    ----------
    executor : str or Executor or distributed.Client
        ``"process"`` (local pool, the default), ``"inline"`` (this process),
        ``"dask"`` (the default Dask client), ``"tcp://host:port"`` (a Dask scheduler),
        a ``distributed.Client``, or an :class:`Executor`.
    workers : int, optional
        Worker processes for ``"process"``; default all cores.  ``workers=1`` runs
        inline (same results, no process start-up).
    """
    if isinstance(executor, Executor):
        return executor
    if isinstance(executor, str):
        if executor == "inline" or (executor == "process" and workers == 1):
            return InlineExecutor()
        if executor == "process":
            return ProcessExecutor(workers)
        if executor == "dask":
            return DaskExecutor()
        if "://" in executor:
            return DaskExecutor(executor)
        raise ConfigError(f"executor must be 'process', 'inline', 'dask', a "
                          f"tcp://host:port scheduler address or an Executor, "
                          f"not {executor!r}")
    if type(executor).__name__ == "Client":
        return DaskExecutor(executor)
    raise ConfigError(f"executor must be a name, a distributed.Client or an Executor, "
                      f"not {type(executor).__name__}")
