"""Visa denial: departing diplomats are not replaced, at a rate per step."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument
from sim.engine.kinds import VISA_SPAN

#: Slack when whole departures are taken out of an accumulated visa-denial rate, so that
#: ten steps at rate 0.1 (which sum to 0.9999999999999999 in floating point) make one.
_CARRY_EPS = 1e-9


@register_instrument
class VisaDenial(Instrument):
    """From the deadline, ``rate`` diplomats a step leave and are not replaced
    (fractions carry over); it holds until lifted. Counted as ``rate * VISA_SPAN``
    staff-equivalents (half a year of departures) when compared with other measures."""

    name = "visa_denial"
    code = 5
    doc = "deny visas: rate diplomats a step leave unreplaced (rate)"
    fields: ClassVar[dict[str, EventField]] = {
        "rate": EventField("rate", "float", True, low=0, high=MAX_STAFF, doc="per step")
    }
    amount_field = "rate"
    liftable = True
    lift_priority = 0
    acts_in_force = True
    category = "diplomats"
    categories = ("diplomats",)

    def allocate(self, missions):
        shape = (missions.n_missions, missions.n_runs)
        missions.visa_rate = np.zeros(shape)
        missions.visa_carry = np.zeros(shape)
        missions.p_visa = missions.pending(float, 0.0, "max")
        # Slots holding a pending denial (a slot keeps the largest rate).
        missions.pending_visa = np.zeros(shape, dtype=np.int32)

    def feasible(self, missions, m):
        return (
            ~missions.suspended[m]
            & (missions.visa_rate[m] == 0)
            & (missions.pending_visa[m] == 0)
            & (missions.diplomats[m] > 0)
        )

    def amount_for(self, missions, m, count):
        if missions.weighted:
            return count / (VISA_SPAN * missions.weight("diplomats"))
        return count / VISA_SPAN

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        rate = np.where(where, amount, 0.0)
        newly = where & (missions.p_visa.due(slot)[m, runs] == 0) & (rate > 0)
        missions.p_visa.put(slot, m, runs, rate, own)
        missions.pending_visa[m, runs] += newly.astype(np.int32)
        if missions.weighted:
            return rate * (VISA_SPAN * missions.weight("diplomats"))
        return rate * VISA_SPAN

    def take_effect(self, missions, slot, note):
        due = missions.p_visa.due(slot)
        missions.pending_visa -= (due > 0).astype(np.int32)
        missions.visa_rate = np.maximum(missions.visa_rate, due)

    def enforce(self, missions, note):
        # Departures under a denial in force: fractions carry over to the next step.
        if missions.visa_rate.any():
            missions.visa_carry += np.where(missions.suspended, 0.0, missions.visa_rate)
            whole = np.floor(missions.visa_carry + _CARRY_EPS)
            leaving = np.minimum(whole, missions.diplomats).astype(np.int32)
            missions.diplomats -= leaving
            missions.visa_carry -= whole
            note(self, leaving)

    def clear(self, missions, slot):
        missions.p_visa.clear(slot)

    def cancel(self, missions, m, cols):
        missions.p_visa.cancel(m, cols)
        missions.pending_visa[m, cols] = missions.p_visa.own_slots(m, cols)
        return 0

    def restricts(self, missions, m):
        return missions.visa_rate[m] > 0

    def lift(self, missions, m, where):
        missions.visa_rate[m] = np.where(where, 0.0, missions.visa_rate[m])

    def describe(self, amount, size):
        return f"denies visas ({amount:g} diplomats a step)"
