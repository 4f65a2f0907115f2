"""The built-in instruments' codes and the constants instruments share.

Nothing here imports from ``sim``: the instruments, the missions, the event record and
the policies all read these.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "CONCILIATORY_KINDS",
    "HOSTILE_KINDS",
    "NO_LIMIT",
    "VISA_SPAN",
    "Kind",
    "whole_staff",
]

#: Stands for "no cap" / "no ceiling on local staff".
NO_LIMIT = np.iinfo(np.int32).max

#: A visa denial of rate r is counted as r * VISA_SPAN staff-equivalents (half a year
#: of weekly departures) when policies compare it with other measures.
VISA_SPAN = 26


def whole_staff(size: np.ndarray) -> np.ndarray:
    """Whole staff in a response of ``size`` staff-equivalents: rounded down.

    Rounding down makes the proportional exchange die out exactly when the product of
    the two ratios is below one, as in the continuous Richardson process: each round
    trip then strictly lowers a whole number. (Rounding half-to-even would keep a size
    of 1 alive under a ratio of 0.6.) The slack absorbs floating-point error, so that
    3 * (1/3) is 1.
    """
    return np.floor(np.asarray(size, dtype=float) + 1e-9)


class Kind(IntEnum):
    """The built-in instruments' codes (the registry, :mod:`sim.engine.instruments`,
    holds every instrument, plugins included). Hostile kinds are ordered roughly by
    severity."""

    NONE = 0
    EXPEL = 1
    CAP = 2
    BAN_LOCAL_HIRES = 3
    CLOSE_CONSULATE = 4
    VISA_DENIAL = 5
    SUSPEND = 6
    CANCEL = 7
    LIFT = 8
    RESTORE = 9
    OFFER = 10

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Kind:
        return cls[label.upper()]


HOSTILE_KINDS = (
    Kind.EXPEL,
    Kind.CAP,
    Kind.BAN_LOCAL_HIRES,
    Kind.CLOSE_CONSULATE,
    Kind.VISA_DENIAL,
    Kind.SUSPEND,
)
CONCILIATORY_KINDS = (Kind.CANCEL, Kind.LIFT, Kind.RESTORE, Kind.OFFER)
