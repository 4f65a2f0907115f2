"""The categories of a mission's staff, declared once, and what a head of each is worth.

A mission holds diplomats, administrative and technical staff, local staff and the
staff of its consulates (Vienna Convention on Diplomatic Relations, art. 1: "members of
the diplomatic staff", "of the administrative and technical staff" and "of the service
staff"; consular posts under the Vienna Convention on Consular Relations). Instruments
name the category they hit (``Instrument.category``); the scenario's optional
``[staff_weights]`` table says how many staff-equivalents a head of each category is,
so that a local employee need not count as a diplomat when a state weighs a measure.

Counts, totals and outcomes stay in heads; only the size of a hostile act (what the
counterpart perceives, the ``size`` of the event record) is in staff-equivalents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
    "DEFAULT_WEIGHT",
    "MAX_WEIGHT",
    "StaffCategory",
    "StaffWeights",
    "category",
]

#: What a head of a category is worth unless ``[staff_weights]`` says otherwise.
DEFAULT_WEIGHT = 1.0
#: The largest weight a scenario may give (a weight is > 0).
MAX_WEIGHT = 100.0


@dataclass(frozen=True)
class StaffCategory:
    """One category of a mission's staff.

    ``mission_field`` is the ``[missions.<id>]`` field holding its count (``None`` for
    consulate staff: ``consulates`` x ``staff_per_consulate``); ``heads(missions, m)``
    reads its heads per run from the missions' arrays (``m`` a mission index or a
    slice).
    """

    name: str
    mission_field: str | None
    doc: str
    heads: Callable[[Any, Any], np.ndarray]


#: Every category. Totals are summed in this order; a cap cuts them in its own
#: (``Cap.cut_order``: local staff first).
CATEGORIES: tuple[StaffCategory, ...] = (
    StaffCategory(
        "diplomats",
        "diplomats",
        "members of the diplomatic staff",
        lambda missions, m: missions.diplomats[m],
    ),
    StaffCategory(
        "admin_technical",
        "admin_technical",
        "administrative and technical staff sent by the mission's state",
        lambda missions, m: missions.admin_technical[m],
    ),
    StaffCategory(
        "local_staff",
        "local_staff",
        "employees hired locally",
        lambda missions, m: missions.local[m],
    ),
    StaffCategory(
        "consulate_staff",
        None,
        "the staff of the mission's consulates (consulates x staff_per_consulate)",
        lambda missions, m: missions.posts[m] * missions.per_post[m],
    ),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
_BY_NAME = {c.name: c for c in CATEGORIES}


def category(name: str) -> StaffCategory:
    """The category called ``name`` (KeyError if none)."""
    return _BY_NAME[name]


class StaffWeights:
    """Staff-equivalents per head of each category (``DEFAULT_WEIGHT`` if not given).

    ``uniform`` is true when every weight is 1: the engine then skips weight arithmetic
    altogether, so that a scenario without ``[staff_weights]`` gives bit-identical
    results at unchanged speed.
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(CATEGORY_NAMES))
        if unknown:
            raise KeyError(f"unknown staff categories: {', '.join(unknown)}")
        self.by_name = {name: float(weights.get(name, DEFAULT_WEIGHT)) for name in CATEGORY_NAMES}
        self.uniform = all(w == 1.0 for w in self.by_name.values())

    def __getitem__(self, name: str) -> float:
        return self.by_name[name]

    def __repr__(self) -> str:
        return f"StaffWeights({self.by_name})"
