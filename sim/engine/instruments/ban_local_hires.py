"""A ban on local staff: a ceiling on the locally hired employees a mission may keep."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument
from sim.engine.kinds import NO_LIMIT


@register_instrument
class BanLocalHires(Instrument):
    """Cap the mission's local staff at ``level`` (default 0: a full ban) from the
    deadline; staff above it leave then, and it holds until lifted."""

    name = "ban_local_hires"
    code = 3
    doc = "ban local staff above a level (level, default 0)"
    fields: ClassVar[dict[str, EventField]] = {
        "level": EventField("level", "int", False, default=0, low=0, high=MAX_STAFF, doc="staff")
    }
    amount_field = "level"
    liftable = True
    lift_priority = 1
    category = "local_staff"
    categories = ("local_staff",)

    def allocate(self, missions):
        missions.ceiling = missions.column("local_hire_ceiling", NO_LIMIT)
        missions.p_ceiling = missions.pending(np.int32, NO_LIMIT, "min")

    def _local(self, missions, m):
        return np.minimum(missions.local[m], missions.ceiling[m])

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (self._local(missions, m) > 0)

    def amount_for(self, missions, m, count):
        if missions.weighted:
            # A decision of ``count`` staff-equivalents: the local staff they are worth
            # (the slack makes 12 at 0.1 a head 120, not 119).
            count = np.floor(count / missions.weight("local_staff") + 1e-9)
        return np.maximum(self._local(missions, m) - count, 0)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        level = np.where(where, np.maximum(amount, 0), NO_LIMIT).astype(np.int32)
        missions.p_ceiling.put(slot, m, runs, level, own)
        local = self._local(missions, m)[runs]
        size = np.where(where, np.maximum(local - level, 0), 0)
        return size * missions.weight("local_staff") if missions.weighted else size

    def pending_heads(self, missions, m):
        # The lowest ceiling pending: the local staff above it leave at its deadline.
        pending = missions.p_ceiling.buf[:, m].min(axis=0)
        local = missions.local[m]
        return {"local_staff": np.maximum(local - np.minimum(pending, missions.ceiling[m]), 0)}

    def take_effect(self, missions, slot, note):
        missions.ceiling = np.minimum(missions.ceiling, missions.p_ceiling.due(slot))
        local = np.minimum(missions.local, missions.ceiling)
        note(self, missions.local - local)
        missions.local = local

    def clear(self, missions, slot):
        missions.p_ceiling.clear(slot)

    def cancel(self, missions, m, cols):
        missions.p_ceiling.cancel(m, cols)
        return 0

    def restricts(self, missions, m):
        return missions.ceiling[m] < NO_LIMIT

    def lift(self, missions, m, where):
        missions.ceiling[m] = np.where(where, NO_LIMIT, missions.ceiling[m])

    def describe(self, amount, size):
        return f"bans local staff above {amount:g}"
