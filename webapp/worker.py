"""How a serving process tunes its interpreter once its app is built.

Both settings come from the load benchmark (``benchmarks/load.py``) on the 2-core machine, where
one worker's threads share one interpreter lock and the garbage collector stops all of them.
"""

from __future__ import annotations

import gc
import sys

#: How long a thread may hold the interpreter lock while others wait (CPython's default: 5 ms).
#: A worker's threads mix short requests (an answer: about 1 ms of CPU) with longer ones (a
#: start or a last answer: 4 to 6 ms); with 5 ms slices an answer waits behind a whole slice of
#: each of them. At 1 ms the answer p95 under 320 answers/s went from 64-157 ms to 39-56 ms in
#: two interleaved pairs of runs, and the workers used less CPU.
SWITCH_INTERVAL_S = 0.001


def prepare_worker_interpreter() -> None:
    """Freeze the startup objects and shorten the interpreter's switch interval.

    A worker starts with about 200,000 tracked objects (modules, the ORM's metadata, the
    translations, the app), none of which ever becomes garbage. Each full collection traverses
    all of them while every thread of the worker waits: on the 2-core machine under exam load
    that took 0.3 to 0.7 s, about five times in 20 s per worker, and stalled every request queued
    on that worker. Frozen, they are not traversed again, and a full collection takes
    milliseconds. Objects freed by reference counting are still freed; only a reference cycle
    among the frozen objects would stay, and the startup objects are never released anyway.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
