"""A cap on a mission's total staff."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument
from sim.engine.kinds import NO_LIMIT


@register_instrument
class Cap(Instrument):
    """Cap the mission's staff at ``level`` from the deadline. Above the cap, local
    staff leave first, then diplomats, then whole consulates; it holds until lifted."""

    name = "cap"
    code = 2
    doc = "cap the mission's staff (level)"
    fields: ClassVar[dict[str, EventField]] = {
        "level": EventField("level", "int", True, low=0, high=MAX_STAFF, doc="staff")
    }
    amount_field = "level"
    liftable = True
    lift_priority = 2

    def allocate(self, missions):
        missions.cap = missions.column("cap", NO_LIMIT)
        missions.p_cap = missions.pending(np.int32, NO_LIMIT, "min")

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (missions.total(m) > 0)

    def amount_for(self, missions, m, count):
        return np.maximum(missions.net_total(m) - count, 0)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        level = np.where(where, np.maximum(amount, 0), NO_LIMIT).astype(np.int32)
        missions.p_cap.put(slot, m, runs, level, own)
        # What a cap removes is counted net of the expulsions already pending.
        return np.where(where, np.maximum(ctx["net_total"] - level, 0), 0)

    def take_effect(self, missions, slot, note):
        missions.cap = np.minimum(missions.cap, missions.p_cap.due(slot))

    def enforce(self, missions, note):
        staff = missions.totals()
        if not (staff > missions.cap).any():
            return
        excess = np.maximum(staff - missions.cap, 0)
        cut = np.minimum(excess, missions.local)
        missions.local -= cut
        excess -= cut
        cut = np.minimum(excess, missions.diplomats)
        missions.diplomats -= cut
        excess -= cut
        per = np.maximum(missions.per_post, 1)
        closing = np.minimum(-(-excess // per), missions.posts)
        missions.posts -= closing.astype(np.int32)
        note(self, staff - missions.totals())

    def room(self, missions, room, totals):
        return np.minimum(room, np.maximum(missions.cap - totals, 0))

    def clear(self, missions, slot):
        missions.p_cap.clear(slot)

    def cancel(self, missions, m, cols):
        missions.p_cap.cancel(m, cols)
        return 0

    def restricts(self, missions, m):
        return missions.cap[m] < NO_LIMIT

    def lift(self, missions, m, where):
        missions.cap[m] = np.where(where, NO_LIMIT, missions.cap[m])

    def describe(self, amount, size):
        return f"caps the mission at {amount:g}"
