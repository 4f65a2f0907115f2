"""The model's per-step state, declared once (in the manner of jax-md's state
dataclasses): what the states announced on each mission in a step, as the others will
perceive it.

The model keeps two of these, ``now`` (this step's announcements, being written) and
``last`` (last step's, which the agents observe), and swaps them in one line at the end
of a step; a third, ``recalled``, holds the recent acts of history that the policies
perceive when the forecast starts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

__all__ = ["Announcements"]


@dataclass
class Announcements:
    """Announcements on each mission in one step. Every array is (missions, runs)."""

    #: Staff-equivalents of every hostile act announced.
    size: np.ndarray
    #: Size of the largest single act (whose instrument and row follow).
    largest: np.ndarray
    #: Instrument code (int8) of the largest act.
    kind: np.ndarray
    #: Event-record row of the largest act (-1: none): what an answer refers to.
    ref: np.ndarray
    #: Staff-equivalents of hostile acts other than solidarity measures (which allies
    #: do not join in turn), and the row of the latest.
    initiative: np.ndarray
    initiative_ref: np.ndarray
    #: Size of the conciliatory moves, and the row of the latest (what a reciprocation
    #: refers to).
    concil: np.ndarray
    concil_ref: np.ndarray

    #: The value each field holds when nothing was announced.
    EMPTY: ClassVar[dict] = {"kind": 0, "ref": -1, "initiative_ref": -1, "concil_ref": -1}
    DTYPES: ClassVar[dict] = {
        "kind": np.int8,
        "ref": np.int64,
        "initiative_ref": np.int64,
        "concil_ref": np.int64,
    }

    @classmethod
    def empty(cls, missions: int, runs: int) -> Announcements:
        shape = (missions, runs)
        return cls(
            **{
                f.name: np.full(shape, cls.EMPTY.get(f.name, 0.0), cls.DTYPES.get(f.name, float))
                for f in fields(cls)
            }
        )

    def clear(self, m: int | slice = slice(None)) -> None:
        """Forget every announcement (on mission ``m``)."""
        for f in fields(self):
            getattr(self, f.name)[m] = self.EMPTY.get(f.name, 0.0)

    def note_hostile(self, m: int, size, kind, rows, cols=slice(None), initiative=True) -> None:
        """Add hostile acts on mission ``m`` (in runs ``cols``): ``size``, ``kind`` and
        event-record ``rows`` per run. ``initiative`` (a bool, or one per run) is False
        for solidarity measures, which allies do not join in turn."""
        at = (m, cols)
        if initiative is True:
            self.initiative[at] += size
            self.initiative_ref[at] = np.where(size > 0, rows, self.initiative_ref[at])
        elif initiative is not False:  # one per run
            self.initiative[at] += np.where(initiative, size, 0.0)
            self.initiative_ref[at] = np.where(
                initiative & (size > 0), rows, self.initiative_ref[at]
            )
        bigger = size > self.largest[at]
        self.ref[at] = np.where(bigger, rows, self.ref[at])
        self.kind[at] = np.where(bigger, kind, self.kind[at])
        self.largest[at] = np.maximum(self.largest[at], size)
        self.size[at] += size

    def note_conciliatory(self, m: int, size: np.ndarray, rows: np.ndarray) -> None:
        """Add conciliatory moves on mission ``m`` (size 0: none) with their rows."""
        self.concil[m] += size
        self.concil_ref[m] = np.where(size > 0, rows, self.concil_ref[m])

    def forget_hostile(self, m: int) -> None:
        """Forget the hostile acts announced on mission ``m`` (its conciliatory moves stay)."""
        for name in ("size", "largest", "kind", "ref", "initiative", "initiative_ref"):
            getattr(self, name)[m] = self.EMPTY.get(name, 0.0)

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))
