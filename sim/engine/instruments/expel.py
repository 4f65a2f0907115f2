"""Expulsion: named diplomats ordered to leave by the deadline."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument


@register_instrument
class Expel(Instrument):
    """Declare ``size`` diplomats persona non grata; they leave at the deadline.

    Only diplomats not already ordered out can be expelled, so an expulsion is recorded
    as the diplomats it could reach (and as not feasible when none were left).
    """

    name = "expel"
    code = 1
    doc = "expel diplomats (size: how many)"
    fields: ClassVar[dict[str, EventField]] = {
        "size": EventField("size", "int", True, low=1, high=MAX_STAFF, doc="diplomats")
    }
    amount_field = "size"
    counts_heads = True

    def allocate(self, missions):
        missions.p_expel = missions.pending(np.int32, 0, "add")
        missions.pending_expel = np.zeros((missions.n_missions, missions.n_runs), dtype=np.int32)

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (missions.diplomats[m] - missions.pending_expel[m] > 0)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        avail = (missions.diplomats[m] - missions.pending_expel[m])[runs]
        n = np.where(where, np.minimum(amount, np.maximum(avail, 0)), 0).astype(np.int32)
        missions.p_expel.put(slot, m, runs, n, own)
        missions.pending_expel[m, runs] += n
        return n

    def take_effect(self, missions, slot, note):
        expel = missions.p_expel.due(slot)
        if expel.any():
            leaving = np.minimum(expel, missions.diplomats)
            missions.diplomats -= leaving
            missions.pending_expel -= expel
            note(self, leaving)

    def clear(self, missions, slot):
        missions.p_expel.clear(slot)

    def committed(self, missions, m):
        return missions.pending_expel[m]

    def pending_staff(self, missions, m):
        return missions.pending_expel[m]

    def cancel(self, missions, m, cols):
        own = missions.p_expel.own_total(m, cols)
        called_off = missions.pending_expel[m, cols] - own
        missions.p_expel.cancel(m, cols)
        missions.pending_expel[m, cols] = own
        return called_off

    def record_amount(self, size, amount, per_post):
        return size

    def describe(self, amount, size):
        return f"expels {amount:g} diplomat{'s' if amount != 1 else ''}"
