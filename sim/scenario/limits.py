"""The limits every scenario is held to, so that any file gets an answer rather than a
crash or a hang (docs/scenario-format.md §1)."""

from __future__ import annotations

import re

#: Largest head count anywhere (a mission's staff, an expulsion, a cap): staff are kept in
#: 32-bit integers, and no embassy has ever come near ten million people. Defined with
#: the instruments, whose event fields it bounds, so that there is one such limit.
from sim.engine.instruments import MAX_STAFF

__all__ = [
    "ID_PATTERN",
    "MAX_DEPTH",
    "MAX_EVENTS",
    "MAX_MISSIONS",
    "MAX_RUNS",
    "MAX_STAFF",
    "MAX_STATES",
    "MAX_STEPS",
]

MAX_STEPS = 20_000
MAX_RUNS = 100_000_000
MAX_STATES = 64
MAX_MISSIONS = 512
MAX_EVENTS = 100_000
#: Tables and arrays nested deeper than this are refused before anything walks them.
MAX_DEPTH = 16
#: Ids of states and missions: a lowercase letter, then letters, digits or _.
ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
