"""Tasks for tests/test_faults.py that local pool workers import (they must be top-level
functions of an importable module): one kills its worker, as the out-of-memory killer
would."""

from __future__ import annotations

import os
from pathlib import Path


def die_once(index: int, flags: str) -> dict:
    """Kill this worker the first time task 1 runs; succeed otherwise."""
    flag = Path(flags) / f"died-{index}"
    if index == 1 and not flag.exists():
        flag.write_text("x")
        os._exit(1)
    return {"status": "ok", "index": index, "pid": os.getpid()}


def always_die(index: int, flags: str) -> dict:
    """Kill this worker every time task 1 runs."""
    if index == 1:
        os._exit(1)
    return {"status": "ok", "index": index}
