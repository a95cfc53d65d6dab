"""Where the tasks run: a local pool of single-threaded worker processes (the default) or Ray tasks, on a
local instance or an existing cluster. Both take the same task functions and report the same things:
results, exceptions (a worker that died is :class:`TaskCrashed`) and a shared count of frames done."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sofp.runtime.analysis import tasks
from sofp.runtime.analysis.worker import Cancelled
from sofp.runtime.errors import UsageError

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
STOP_GRACE_S = 10.0  # how long running tasks get to notice an interruption before their processes are ended


class TaskCrashed(Exception):
    """The process running a task died (a crash in a decoder, the out-of-memory killer)."""


def _init_local(counter: Any, stop: Any) -> None:
    def add(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    tasks.setup_worker(add, stop.is_set)


class LocalExecutor:
    """``workers`` spawned processes, each single-threaded; Ctrl-C and SIGTERM are left to the driver."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._ctx = mp.get_context("spawn")
        self._counter = self._ctx.Value("q", 0)
        self._stop = self._ctx.Event()
        self._pool = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
        os.environ.update(SINGLE_THREAD_ENV)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # inherited by the children
        try:
            pool = cf.ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_local,
                                          initargs=(self._counter, self._stop))
            for f in [pool.submit(tasks.warm_up) for _ in range(self.workers)]:  # every process started now
                f.result()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return pool

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        try:
            return self._pool.submit(fn, *args)
        except BrokenProcessPool:  # a worker died since: a fresh pool for what comes next
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            return self._pool.submit(fn, *args)

    def wait(self, handles: Iterable[cf.Future], timeout: float) -> list[cf.Future]:
        done, _ = cf.wait(list(handles), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: cf.Future) -> Any:
        try:
            return handle.result()
        except BrokenProcessPool as exc:
            raise TaskCrashed("the worker process died while analysing it") from exc

    def frames(self) -> int:
        return int(self._counter.value)

    def cancel(self, handle: cf.Future) -> None:
        handle.cancel()

    def close(self, interrupted: bool = False) -> None:
        """Wait for the pool; after an interruption, stop running tasks (they check every 50 frames)."""
        if not interrupted:
            self._pool.shutdown(wait=True)
            return
        self._stop.set()
        processes = list((getattr(self._pool, "_processes", None) or {}).values())  # no public handle before 3.14
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + STOP_GRACE_S
        for p in processes:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in processes:
            if p.is_alive():
                p.terminate()
        self._pool.shutdown(wait=True)


class ProgressCounter:
    """A Ray actor: frames done by every task of the run."""

    def __init__(self) -> None:
        self.n = 0

    def add(self, n: int) -> None:
        self.n += n

    def value(self) -> int:
        return self.n


def _ray_call(counter: Any, fn: Callable, *args: Any) -> Any:
    tasks.setup_worker(lambda n: counter.add.remote(n))
    return fn(*args)


class RayExecutor:
    """Ray tasks (1 CPU each, not retried: a crash is the video's failure). ``address`` None starts a local
    instance with ``workers`` CPUs; "auto", "host:6379" or "ray://host:10001" joins an existing cluster,
    where every node needs this package installed and the videos at the same paths."""

    name = "ray"

    def __init__(self, address: str | None, workers: int) -> None:
        try:
            import ray
            import ray.exceptions
        except ImportError:
            raise UsageError("--ray needs Ray, which is not installed; pip install 'sofp-edge[ray]'") from None
        self._ray = ray
        self._errors = ray.exceptions
        opts: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
        t0 = time.perf_counter()
        try:
            if address is None:
                # Ray starts its workers at niceness 15 (its daemons first); on a shared machine that starves them
                # against the local pool's workers. A local instance runs them at the driver's priority, as the pool
                # does (RAY_worker_niceness set by the user wins).
                os.environ.setdefault("RAY_worker_niceness", "0")
                ray.init(num_cpus=workers, **opts)
            else:
                ray.init(address=address, **opts)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"--ray {address or ''}: cannot start or join a Ray cluster ({exc})".replace("  ", " ")) \
                from None
        self.workers = int(ray.cluster_resources().get("CPU", workers))
        self._counter: Any = ray.remote(num_cpus=0)(ProgressCounter).remote()
        self._call: Any = ray.remote(num_cpus=1, max_retries=0)(_ray_call)
        self._pending: set[Any] = set()
        ray.get([self._call.remote(self._counter, tasks.warm_up) for _ in range(self.workers)])
        self.start_s = time.perf_counter() - t0

    def submit(self, fn: Callable, *args: Any) -> Any:
        ref = self._call.remote(self._counter, fn, *args)
        self._pending.add(ref)
        return ref

    def wait(self, handles: Iterable[Any], timeout: float) -> list[Any]:
        refs = list(handles)
        if not refs:
            return []
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        return ready

    def result(self, handle: Any) -> Any:
        ex = self._errors
        self._pending.discard(handle)
        try:
            return self._ray.get(handle)
        except ex.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, Exception) else exc) from None
        except (ex.WorkerCrashedError, ex.NodeDiedError, ex.OutOfMemoryError) as exc:
            raise TaskCrashed(f"the Ray worker died while analysing it ({type(exc).__name__})") from None
        except ex.TaskCancelledError:
            raise Cancelled() from None

    def frames(self) -> int:
        return int(self._ray.get(self._counter.value.remote()))

    def cancel(self, handle: Any) -> None:
        self._pending.discard(handle)
        self._ray.cancel(handle, force=True)

    def close(self, interrupted: bool = False) -> None:
        if interrupted:
            for ref in list(self._pending):
                self._ray.cancel(ref, force=True)
        self._ray.shutdown()
