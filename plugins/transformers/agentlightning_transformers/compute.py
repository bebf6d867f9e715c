"""One thread for every torch computation of the process: generation, training, weight swaps.

Why one thread: torch's CPU kernels run on OpenMP (libgomp), and libgomp gives each thread that
starts parallel work a team of its own. Once a process holds more OpenMP threads than it has
cores (the engine's batch thread, the learner's thread pool and the loader each bring a team),
libgomp stops spinning between parallel regions and parks its workers after ~1,000 spins, so
every one of the ~600 small matrix products of a decode step pays a futex wake-up. Measured on a
2-core machine, SmolLM2-135M, 8 rows: one team that spins between regions decodes a token in
~40 ms; two teams (or ``OMP_WAIT_POLICY=PASSIVE``) take ~65 ms. Training steps gain the same way.

So the engine's batches, its weight swaps and loads, and the GRPO learner's steps and
checkpoints all run here, one after another (they never overlapped usefully on a CPU anyway:
each uses every core). How long idle workers spin is bounded by ``GOMP_SPINCOUNT``
(:data:`SPIN_ENV`), which the CLI and the benchmarks set before torch loads.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: libgomp spin iterations before an idle worker sleeps (a few milliseconds on current x86):
#: long enough to bridge the gaps between the kernels of one step, short enough that a worker
#: never holds a core the event loop needs for long. Used by :func:`configure_openmp`.
DEFAULT_SPIN_COUNT = "100000"
SPIN_ENV = {"GOMP_SPINCOUNT": DEFAULT_SPIN_COUNT}

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_thread_ident: int | None = None


def configure_openmp(environ: dict[str, str] | None = None) -> None:
    """Set bounded OpenMP spinning in ``environ`` (default ``os.environ``) unless the user chose.

    Must run before torch is imported (libgomp reads its settings once, when it loads). An
    explicit ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is left alone.
    """
    env = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in env or "GOMP_SPINCOUNT" in env:
        return
    env.update(SPIN_ENV)


def _mark() -> None:
    global _thread_ident
    _thread_ident = threading.get_ident()


def executor() -> ThreadPoolExecutor:
    """The process's torch thread (created on first use)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agl-torch", initializer=_mark)
        return _executor


def on_compute_thread() -> bool:
    return _thread_ident is not None and threading.get_ident() == _thread_ident


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` on the torch thread and wait for it (directly when already there)."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    return executor().submit(fn, *args, **kwargs).result()


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Await ``fn`` run on the torch thread; the event loop stays free meanwhile."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    future: Future[T] = executor().submit(fn, *args, **kwargs)
    return await asyncio.wrap_future(future)


def set_threads(threads: int) -> None:
    """``torch.set_num_threads`` as seen from the torch thread (OpenMP's setting is per thread)."""

    def apply() -> None:
        import torch

        torch.set_num_threads(threads)

    call(apply)
