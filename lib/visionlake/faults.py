"""Named points of a run where the fault harness may kill the process, chosen by name rather than by timing.

A run passes points such as ``bronze/results:staged`` (data files written, not committed),
``bronze/results:committed``, ``silver:done`` or ``runlog:before``. With ``VISIONLAKE_KILL_AT=<pattern>``
(fnmatch, optionally ``#<n>`` for the n-th point that matches) the process kills itself with SIGKILL there,
exactly as ``kill -9`` would. With ``VISIONLAKE_POINTS_LOG=<file>`` every point passed is appended to that
file, so a test can list the points of a run. Neither variable is set in normal operation: then a point costs
one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from fnmatch import fnmatch

KILL_ENV = "VISIONLAKE_KILL_AT"
LOG_ENV = "VISIONLAKE_POINTS_LOG"
_lock = threading.Lock()
_hits = 0


def point(name: str) -> None:
    """Pass the point ``name``: record it, and die here if the harness asked for it."""
    global _hits
    log, target = os.environ.get(LOG_ENV), os.environ.get(KILL_ENV)
    if not log and not target:
        return
    with _lock:
        if log:
            with open(log, "a") as handle:
                handle.write(name + "\n")
        if target:
            pattern, _, nth = target.partition("#")
            if fnmatch(name, pattern):
                _hits += 1
                if _hits >= int(nth or 1):
                    os.kill(os.getpid(), signal.SIGKILL)
