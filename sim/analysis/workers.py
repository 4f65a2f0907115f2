"""Local worker processes that never outlive the process that started them.

Sweeps, robustness analyses and pooled calibrations run on a ``forkserver`` process
pool. If the main process is killed outright (SIGKILL, the out-of-memory killer), the
pool cannot shut its workers down, and each would wait for work forever, holding its
memory (about 200 MB). Every worker therefore runs :func:`init_worker`, which makes it
ignore Ctrl-C (the main process stops the pool, after marking its manifest) and
starts a watchdog thread that ends the worker within :data:`WATCH_INTERVAL` seconds
of the main process's death.
"""

from __future__ import annotations

import os
import signal
import threading
import time

__all__ = ["WATCH_INTERVAL", "forkserver_context", "init_worker", "terminate_pool"]

#: Seconds between two checks that the main process is alive.
WATCH_INTERVAL = 0.5


def forkserver_context():
    """The ``forkserver`` context, its server importing the simulator once.

    Each pool worker is forked from the server: with the simulator already imported
    there, a worker starts in milliseconds instead of importing it again (about 3 s),
    which matters when a pool is renewed after a lost worker, and for every short sweep.
    The preload takes effect when the server starts (the first pool of a process).
    """
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim.analysis.sweep"])
    return context


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user has taken the number
        return False
    return True


def _watch(main_pid: int, parent_pid: int) -> None:
    # The worker's parent is the forkserver, which exits when the main process does;
    # a changed parent, or a main process gone, both mean nobody will send work again.
    while True:
        time.sleep(WATCH_INTERVAL)
        if os.getppid() != parent_pid or not _alive(main_pid):
            os._exit(1)


def init_worker(main_pid: int) -> None:
    """Initializer of every local pool worker (``initargs=(os.getpid(),)``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_watch, args=(main_pid, os.getppid()), name="main-process-watch", daemon=True
    ).start()


def terminate_pool(pool) -> None:
    """Stop a ``ProcessPoolExecutor`` at once: cancel what waits, end what runs."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=2)
        if process.is_alive():
            process.kill()
