"""Expulsion: named diplomats (or administrative and technical staff) ordered to leave
by the deadline."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument

#: Slack when a decision in staff-equivalents is turned into whole heads, so that 12
#: staff-equivalents at 0.1 a head are 120 heads, not 119.
_HEADS_EPS = 1e-9


@register_instrument
class Expel(Instrument):
    """Declare ``size`` diplomats persona non grata; they leave at the deadline.

    Only diplomats not already ordered out can be expelled, so an expulsion is recorded
    as the diplomats it could reach (and as not feasible when none were left). A
    scenario's expulsion may name ``category = "admin_technical"`` to expel
    administrative and technical staff instead; policies expel diplomats.
    """

    name = "expel"
    code = 1
    doc = "expel diplomats (size: how many; category: diplomats or admin_technical)"
    fields: ClassVar[dict[str, EventField]] = {
        "size": EventField("size", "int", True, low=1, high=MAX_STAFF, doc="staff"),
        "category": EventField(
            "category", "choice", False, default="diplomats",
            choices=("diplomats", "admin_technical"), doc="the staff expelled",
        ),
    }  # fmt: skip
    amount_field = "size"
    counts_heads = True
    category = "diplomats"
    categories = ("diplomats", "admin_technical")

    def allocate(self, missions):
        missions.p_expel = missions.pending(np.int32, 0, "add")
        missions.pending_expel = np.zeros((missions.n_missions, missions.n_runs), dtype=np.int32)
        # Expulsions of administrative and technical staff have buffers of their own,
        # made at the first one, so that the diplomats' path costs nothing more.
        missions.p_expel_admin = None
        missions.pending_expel_admin = None

    def _admin_buffers(self, missions):
        if missions.p_expel_admin is None:
            missions.p_expel_admin = missions.pending(np.int32, 0, "add")
            shape = (missions.n_missions, missions.n_runs)
            missions.pending_expel_admin = np.zeros(shape, dtype=np.int32)
        return missions.p_expel_admin, missions.pending_expel_admin

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (missions.diplomats[m] - missions.pending_expel[m] > 0)

    def amount_for(self, missions, m, count):
        if not missions.weighted:
            return count
        # A decision of ``count`` staff-equivalents: the diplomats they are worth, and
        # at least one for a decision of at least one.
        heads = np.floor(count / missions.weight("diplomats") + _HEADS_EPS)
        return np.where(count >= 1, np.maximum(heads, 1), heads)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        category = ctx["options"].get("category", "diplomats")
        if category == "admin_technical":
            ring, pending = self._admin_buffers(missions)
            staff = missions.admin_technical
        else:
            ring, pending, staff = missions.p_expel, missions.pending_expel, missions.diplomats
        avail = (staff[m] - pending[m])[runs]
        n = np.where(where, np.minimum(amount, np.maximum(avail, 0)), 0).astype(np.int32)
        ring.put(slot, m, runs, n, own)
        pending[m, runs] += n
        if not missions.weighted:
            return n
        missions.reached[self.code] = n
        return n * missions.weight(category)

    def take_effect(self, missions, slot, note):
        expel = missions.p_expel.due(slot)
        leaving = None
        if expel.any():
            leaving = np.minimum(expel, missions.diplomats)
            missions.diplomats -= leaving
            missions.pending_expel -= expel
        if missions.p_expel_admin is not None:
            admin = missions.p_expel_admin.due(slot)
            if admin.any():
                out = np.minimum(admin, missions.admin_technical)
                missions.admin_technical -= out
                missions.pending_expel_admin -= admin
                leaving = out if leaving is None else leaving + out
        if leaving is not None:
            note(self, leaving)

    def clear(self, missions, slot):
        missions.p_expel.clear(slot)
        if missions.p_expel_admin is not None:
            missions.p_expel_admin.clear(slot)

    def committed(self, missions, m):
        if missions.pending_expel_admin is None:
            return missions.pending_expel[m]
        return missions.pending_expel[m] + missions.pending_expel_admin[m]

    def pending_heads(self, missions, m):
        out = {"diplomats": missions.pending_expel[m]}
        if missions.pending_expel_admin is not None:
            out["admin_technical"] = missions.pending_expel_admin[m]
        return out

    def pending_staff(self, missions, m):
        if not missions.weighted:
            return self.committed(missions, m)
        return sum(
            missions.weight(name) * heads for name, heads in self.pending_heads(missions, m).items()
        )

    def cancel(self, missions, m, cols):
        called_off = self._cancel(missions, m, cols, missions.p_expel, missions.pending_expel)
        if missions.weighted:
            called_off = called_off * missions.weight("diplomats")
        if missions.p_expel_admin is not None:
            admin = self._cancel(
                missions, m, cols, missions.p_expel_admin, missions.pending_expel_admin
            )
            called_off = called_off + admin * missions.weight("admin_technical")
        return called_off

    @staticmethod
    def _cancel(missions, m, cols, ring, pending):
        own = ring.own_total(m, cols)
        called_off = pending[m, cols] - own
        ring.cancel(m, cols)
        pending[m, cols] = own
        return called_off

    def record_amount(self, size, amount, per_post):
        return size

    def describe(self, amount, size):
        return f"expels {amount:g} diplomat{'s' if amount != 1 else ''}"
