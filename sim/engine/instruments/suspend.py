"""Suspension: the mission is closed at the deadline, all its staff leave."""

from __future__ import annotations

import numpy as np

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import Instrument


@register_instrument
class Suspend(Instrument):
    """Suspend the mission's operations: from the deadline it holds nobody, and
    nothing can be restored into it."""

    name = "suspend"
    code = 6
    doc = "suspend the mission (no fields)"
    empties_mission = True
    categories = ("diplomats", "admin_technical", "local_staff", "consulate_staff")

    def allocate(self, missions):
        shape = (missions.n_missions, missions.n_runs)
        missions.suspended = np.zeros(shape, dtype=bool)
        missions.p_suspend = missions.pending(bool, False, "or")

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (missions.total(m) > 0)

    def feasible_as_substitute(self, missions, m, count):
        # Climbing the ladder keeps the response's size, so suspension stands in only
        # where the response would leave no more staff than that anyway.
        if missions.weighted:
            # ``count`` is in staff-equivalents: compare the mission's worth in them.
            return self.feasible(missions, m) & (missions.net_equivalents(m) <= count)
        return self.feasible(missions, m) & (missions.net_total(m) <= count)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        missions.p_suspend.put(slot, m, runs, where, own)
        if missions.weighted:
            return np.where(where, missions.equivalents(m)[runs], 0)
        return np.where(where, ctx["total"], 0)

    def take_effect(self, missions, slot, note):
        missions.suspended |= missions.p_suspend.due(slot)

    def enforce(self, missions, note):
        suspended = missions.suspended
        if suspended.any():
            staff = missions.totals()
            missions.diplomats[suspended] = 0
            missions.admin_technical[suspended] = 0
            missions.local[suspended] = 0
            missions.posts[suspended] = 0
            for pool in missions.extra_pools.values():
                pool[suspended] = 0
            note(self, np.where(suspended, staff, 0))

    def room(self, missions, room, totals):
        return np.where(missions.suspended, 0, room)

    def clear(self, missions, slot):
        missions.p_suspend.clear(slot)

    def cancel(self, missions, m, cols):
        missions.p_suspend.cancel(m, cols)
        return 0

    def end_temporary(self, missions, m, where, announced, removed, deadline):
        # The mission reopens, and the staff the suspension removed may come back.
        missions.suspended[m] &= ~where
        return super().end_temporary(missions, m, where, announced, removed, deadline)

    def describe(self, amount, size):
        return "suspends the mission"
